"""Every answer of a fixed corpus against the answer recorded for it: status, headers, error bodies, labels and
predictions exactly, and every score within the export's precision bound of the recorded score.

The corpus: single rows, batches up to 10,000 rows, the ML team's reference rows (when ../shared is present) and
every kind of error, on every route and both models. The answers are recorded in golden_responses.json, with the
200s' scores (as float32, far finer than the bound) and predictions (as label indices) in golden_scores.npz. A
change that alters any answer fails here; when the change is intended, record them again with
`python -m scripts.project exec python -m tests.unit.test_golden_responses` after `make build`.
Apart from that, each 200 body must be, byte for byte, the row-by-row rendering of the scores it carries.
"""

from __future__ import annotations

import base64
import importlib
import io
import json
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np
import pytest

from model_build.parity import PARITY_TOLERANCE
from scripts.harness.events import single_row_event
from scripts.project import REPO
from tests.support.rendering import rendered_row_by_row

GOLDEN = Path(__file__).with_name("golden_responses.json")
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


def score_tolerance(handler: ModuleType, model_name: str) -> float:
    """How far a score may be from the recorded one: the export's precision bound for the model's precision."""
    return PARITY_TOLERANCE[handler.classifier.models[model_name].input_dtype.name]


def golden() -> dict[str, dict[str, Any]]:
    recorded: dict[str, dict[str, Any]] = json.loads(GOLDEN.read_text())
    return recorded


@pytest.fixture(scope="module")
def golden_scores() -> Iterator[Any]:
    with np.load(GOLDEN_SCORES) as recorded:
        yield {name: recorded[name] for name in recorded.files}


@pytest.fixture(scope="module")
def handlers() -> dict[str, ModuleType]:
    return {}


@pytest.fixture
def handler_for(handler_module, handlers):
    """One cold start per route for the whole corpus, on the default models."""

    def loaded(route: str) -> ModuleType:
        if route not in handlers:
            handlers[route] = handler_module(route)
        return handlers[route]

    return loaded


def test_the_corpus_covers_every_status_and_route():
    recorded = golden()
    statuses = {(case.route, recorded[case.name]["status"]) for case in CASES}
    assert statuses >= {(route, status) for route in MODELS_OF_ROUTE for status in (200, 413, 422)}
    assert ("astromech", 400) in statuses


def test_every_recorded_case_is_still_in_the_corpus():
    recorded = set(golden())
    produced = {case.name for case in CASES}
    missing_reference = {case for case in recorded if case.endswith(": reference rows")} - produced
    assert recorded - missing_reference == produced


def score_differences(handler: ModuleType, response: dict[str, Any], name: str, recorded: Any) -> list[str]:
    """What differs between a 200's scores and predictions and the recorded ones: empty when they agree."""
    scores, predictions = scores_and_predictions(response)
    kept_scores, kept_predictions = recorded[f"{name}/scores"], recorded[f"{name}/prediction"]
    if scores.shape != kept_scores.shape:
        return [f"scores of shape {scores.shape}, recorded {kept_scores.shape}"]
    differences = []
    if not np.array_equal(predictions, kept_predictions):
        differences.append(f"{int((predictions != kept_predictions).sum())} predictions differ")
    tolerance = score_tolerance(handler, response["multiValueHeaders"]["X-Kyber-Model"][-1])
    worst = float(np.abs(scores - kept_scores.astype(np.float64)).max())
    if worst > tolerance:
        differences.append(f"a score is {worst:.3g} from the recorded one (bound {tolerance:.3g})")
    return differences


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_the_answer_is_the_recorded_one(handler_for, golden_scores, case):
    # When the route answers the case
    handler = handler_for(case.route)
    response = proxy_response(handler, case)
    # Then status, headers and the body (for a 200, its labels and row count) are exactly as recorded
    assert answer(response) == golden()[case.name]
    # And a 200's predictions are the recorded ones, and every score is within the bound of the recorded one
    if response["statusCode"] == 200:
        assert score_differences(handler, response, case.name, golden_scores) == []


SCORED_CASES = [case for case in CASES if case.name.endswith(("single iris", "batch 100"))]


@pytest.mark.parametrize("case", SCORED_CASES, ids=[case.name for case in SCORED_CASES])
def test_a_change_of_one_part_in_ten_thousand_in_the_served_scores_is_caught(
    handler_for, golden_scores, monkeypatch, case
):
    # Given a route whose models serve every score multiplied by 1 + 1e-4
    handler = handler_for(case.route)
    for model in handler.classifier.models.values():
        real = model.session.run
        monkeypatch.setattr(model.session, "run", lambda *args, run=real: [run(*args)[0] * (1 + 1e-4)])
    # When it answers the case
    response = proxy_response(handler, case)
    # Then the answer no longer agrees with the recorded one
    assert any(
        "from the recorded one" in line for line in score_differences(handler, response, case.name, golden_scores)
    )


OK_CASES = [case for case in CASES if golden()[case.name]["status"] == 200]


@pytest.mark.parametrize("case", OK_CASES, ids=[case.name for case in OK_CASES])
def test_a_200_body_is_byte_for_byte_the_row_by_row_rendering_of_its_scores(handler_for, case):
    # Given the scores the route's model computes here for the case's rows
    handler = handler_for(case.route)
    response = proxy_response(handler, case)
    assert response["statusCode"] == 200
    payload = json.loads(base64.b64decode(case.body or "") if case.is_base64 else case.body or "")
    classifier = handler.classifier
    model = (
        classifier.models[payload["model"]] if classifier.chosen_by_request else next(iter(classifier.models.values()))
    )
    scores = model.score(np.asarray(payload["crystalData"], dtype=np.float64)).probabilities
    # Then the body is those scores written one dict per row, as the service first wrote them
    assert response["body"].encode() == rendered_row_by_row(model.labels, scores)


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
