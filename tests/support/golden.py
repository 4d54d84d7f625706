"""The golden corpus: a fixed set of requests on every route and model, what the service answers them in-process,
and the recorded answers (tests/unit/project/golden_responses.json, the 200s' scores in golden_scores.npz) that
tests/unit/project/test_golden_responses.py compares today's answers with. `make golden` records them again, after
`make build`, when a change to them is intended.
"""

from __future__ import annotations

import base64
import importlib
import io
import json
from collections.abc import Iterator
from contextlib import redirect_stdout
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from scripts.harness.events import single_row_event
from scripts.project import REPO

GOLDEN = REPO / "tests" / "unit" / "project" / "golden_responses.json"
GOLDEN_SCORES = GOLDEN.with_name("golden_scores.npz")
REFERENCE_INPUT = REPO.parent / "shared" / "reference-models" / "expected.json"
# The models each route is asked for (None: the route's own, with no "model" field).
MODELS_OF_ROUTE: dict[str, list[str | None]] = {
    "sklearn": [None],
    "pytorch": [None],
    "astromech": ["sklearn", "pytorch"],
}
# The headers an answer is recorded with; the others (none today) may change freely.
RECORDED_HEADERS = ("Content-Type", "Allow", "X-Kyber-Model", "X-Kyber-Model-Version")


class Case(NamedTuple):
    name: str
    route: str
    body: str | None
    is_base64: bool


def rows(seed: int, count: int, low: float, high: float) -> list[list[float]]:
    return np.random.default_rng(seed).uniform(low, high, size=(count, 4)).round(6).tolist()


def crystal_data_cases() -> dict[str, str]:
    """crystalData as written in a body, by case name."""
    cases = {
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
        cases["reference rows"] = json.dumps(json.loads(REFERENCE_INPUT.read_text())["input"])
    return cases


# Bodies sent as they are to every route, by case name.
RAW_BODIES = {
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


def corpus() -> Iterator[Case]:
    """Every case; the reference rows only where ../shared has them."""
    data_cases = crystal_data_cases()
    for route, models in MODELS_OF_ROUTE.items():
        for model in models:
            prefix = f'{{"model": "{model}", ' if model else "{"
            for case, crystal_data in data_cases.items():
                written = f'{prefix}"crystalData": {crystal_data}}}'
                yield Case(f"{route} {model or route}: {case}", route, written, False)
    valid = '{"model": "pytorch", "crystalData": [[6.2, 2.9, 4.3, 1.3]]}'
    for route in MODELS_OF_ROUTE:
        for case, body in RAW_BODIES.items():
            yield Case(f"{route}: {case}", route, body, False)
        yield Case(f"{route}: base64 body", route, base64.b64encode(valid.encode()).decode(), True)
        yield Case(f"{route}: bad base64 body", route, "not*base64", True)


CASES = list(corpus())


def proxy_response(handler: ModuleType, case: Case) -> dict[str, Any]:
    """What the route's handler answers in-process, with a fixed request id."""
    event = single_row_event(case.route)
    event["body"], event["isBase64Encoded"] = case.body, case.is_base64
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
        response: dict[str, Any] = handler.lambda_handler(event, context)
    return response


def answer(response: dict[str, Any]) -> dict[str, Any]:
    """The recorded form of an answer: status, recorded headers, and the body itself unless it is a 200, whose
    labels stand for it (its scores and predictions are recorded apart)."""
    headers = {name: values[-1] for name, values in response["multiValueHeaders"].items() if name in RECORDED_HEADERS}
    body = json.loads(response["body"])
    recorded = {"status": response["statusCode"], "headers": headers}
    if response["statusCode"] == 200:
        return {**recorded, "labels": list(body["scores"][0]), "rows": len(body["scores"])}
    return {**recorded, "body": body}


def scores_and_predictions(response: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """A 200's scores, one row per row and one column per label in the labels' order, and its predictions as
    indices into the labels."""
    body = json.loads(response["body"])
    labels = list(body["scores"][0])
    scores = np.array([[row[label] for label in labels] for row in body["scores"]], dtype=np.float64)
    return scores, np.array([labels.index(label) for label in body["prediction"]], dtype=np.uint8)


def golden() -> dict[str, dict[str, Any]]:
    recorded: dict[str, dict[str, Any]] = json.loads(GOLDEN.read_text())
    return recorded


def record() -> None:
    """Write the answers of today's build as the recorded ones."""
    modules = {route: importlib.import_module(f"functions.{route}.app") for route in MODELS_OF_ROUTE}
    answers: dict[str, dict[str, Any]] = {}
    arrays: dict[str, Any] = {}
    for case in CASES:
        response = proxy_response(modules[case.route], case)
        answers[case.name] = answer(response)
        if response["statusCode"] == 200:
            scores, predictions = scores_and_predictions(response)
            arrays[f"{case.name}/scores"] = scores.astype(np.float32)
            arrays[f"{case.name}/prediction"] = predictions
    GOLDEN.write_text(json.dumps(answers, indent=1) + "\n")
    np.savez_compressed(GOLDEN_SCORES, **arrays)
    print(f"{GOLDEN}, {GOLDEN_SCORES.name}: {len(CASES)} cases, {len(arrays) // 2} with scores")


if __name__ == "__main__":
    record()
