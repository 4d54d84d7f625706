"""A function's real output for three requests, from a process of its own with the environment it is given:
`python -m tests.support.function_output ROUTE` answers a batch of 4 rows (200), a batch with a bad value (422)
and a batch whose model returns NaN (500), writing to stdout whatever the function writes."""

from __future__ import annotations

import dataclasses
import importlib
import sys
from typing import Any

from scripts.harness.events import FakeLambdaContext, load_event
from tests.support.fakes import NonFiniteRows


def main(route: str) -> None:
    handler: Any = importlib.import_module(f"functions.{route}.app")
    context = FakeLambdaContext()
    handler.lambda_handler(load_event(f"{route}_batch.json"), context)
    handler.lambda_handler(load_event(f"{route}_bad_data.json"), context)
    models = {
        name: dataclasses.replace(model, session=NonFiniteRows(0)) for name, model in handler.classifier.models.items()
    }
    handler.classifier = dataclasses.replace(handler.classifier, models=models)
    handler.lambda_handler(load_event(f"{route}_batch.json"), context)


if __name__ == "__main__":
    main(sys.argv[1])
