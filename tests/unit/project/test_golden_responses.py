"""Every answer of a fixed corpus against the answer recorded for it: status, headers, error bodies, labels and
predictions exactly, and every score within the export's precision bound of the recorded score.

The corpus: single rows, batches up to 10,000 rows, the ML team's reference rows (when ../shared is present) and
every kind of error, on every route and both models. The answers are recorded in golden_responses.json, with the
200s' scores (as float32, far finer than the bound) and predictions (as label indices) in golden_scores.npz. A
change that alters any answer fails here; when the change is intended, record them again with
`make golden` (tests/support/golden.py) after `make build`.
Apart from that, each 200 body must be, byte for byte, the row-by-row rendering of the scores it carries.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from model_build.parity import PARITY_TOLERANCE
from tests.support.golden import (
    CASES,
    GOLDEN_SCORES,
    MODELS_OF_ROUTE,
    answer,
    golden,
    proxy_response,
    scores_and_predictions,
)
from tests.support.rendering import rendered_row_by_row


def score_tolerance(handler: ModuleType, model_name: str) -> float:
    """How far a score may be from the recorded one: the export's precision bound for the model's precision."""
    return PARITY_TOLERANCE[handler.scorer.models[model_name].input_dtype.name]


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
    for model in handler.scorer.models.values():
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
    scorer = handler.scorer
    model = scorer.models[payload["model"]] if scorer.chosen_by_request else next(iter(scorer.models.values()))
    scores = model.score(np.asarray(payload["crystalData"], dtype=np.float64)).probabilities
    # Then the body is those scores written one dict per row, as the service first wrote them
    assert response["body"].encode() == rendered_row_by_row(model.labels, scores)
