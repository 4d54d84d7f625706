"""A function's real output for its requests, from a process of its own with the environment it is given:
`python -m tests.support.function_output ROUTE` answers a batch of 4 rows (200), a batch with a bad value (422),
when its models have challengers the batch again with every challenger failing (200), and a batch whose model
returns NaN (500), writing to stdout whatever the function writes."""

from __future__ import annotations

import importlib
import sys
from typing import Any

from scripts.harness.events import FakeLambdaContext, load_event
from tests.support.challengers import challengers_scoring_with, champions_scoring_with
from tests.support.fakes import ExplodingSession, NonFiniteRows


def main(route: str) -> None:
    handler: Any = importlib.import_module(f"functions.{route}.app")
    context = FakeLambdaContext()
    handler.lambda_handler(load_event(f"{route}_batch.json"), context)
    handler.lambda_handler(load_event(f"{route}_bad_data.json"), context)
    if handler.scorer.shadows:
        challengers_scoring_with(handler.scorer, ExplodingSession())
        handler.lambda_handler(load_event(f"{route}_batch.json"), context)
    champions_scoring_with(handler.scorer, NonFiniteRows(0))
    handler.lambda_handler(load_event(f"{route}_batch.json"), context)


if __name__ == "__main__":
    main(sys.argv[1])
