"""Whatever a droid sends, the answer is a 200 with one well-formed row per sample, or a JSON 4xx."""

from __future__ import annotations

import json
from http import HTTPStatus

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scripts.harness.events import proxy_event
from tests.support.service import DEFAULT_LABELS

EXPECTED_STATUSES = {HTTPStatus.OK, HTTPStatus.UNPROCESSABLE_ENTITY, HTTPStatus.BAD_REQUEST}

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
)
number_texts = st.sampled_from(["1", "-0", "5.1", "1e308", "1e400", "-1e999", "NaN", "Infinity", "1" + "0" * 400])
rows = st.lists(
    st.one_of(
        st.lists(number_texts, min_size=4, max_size=4), st.lists(number_texts, max_size=6), json_values.map(json.dumps)
    ),
    max_size=6,
).map(lambda items: "[" + ", ".join(f"[{', '.join(item)}]" if isinstance(item, list) else item for item in items) + "]")
bodies = st.one_of(
    st.text(max_size=40),
    json_values.map(json.dumps),
    rows.map(lambda crystal_data: '{"crystalData": ' + crystal_data + "}"),
    st.tuples(json_values.map(json.dumps), rows).map(
        lambda pair: '{"model": ' + pair[0] + ', "crystalData": ' + pair[1] + "}"
    ),
    rows.map(lambda crystal_data: '{"model": "pytorch", "crystalData": ' + crystal_data + "}"),
)

fuzz = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def assert_well_formed(answer, body: str) -> None:
    assert answer.status in EXPECTED_STATUSES, (body, answer.body)
    if answer.status != HTTPStatus.OK:
        assert isinstance(answer.body["message"], str)
        assert answer.body["message"]
        return
    scores = np.array([[row[label] for label in DEFAULT_LABELS] for row in answer.body["scores"]])
    assert len(answer.body["prediction"]) == len(scores) >= 1
    assert np.isfinite(scores).all()
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    assert answer.body["prediction"] == [DEFAULT_LABELS[i] for i in scores.argmax(axis=1)]


@fuzz
@given(body=bodies)
def test_any_body_to_a_model_route_gets_a_well_formed_answer(invoke, body):
    for route in ("sklearn", "pytorch"):
        answer = invoke(route, proxy_event(route, body))
        assert answer.status != HTTPStatus.BAD_REQUEST
        assert_well_formed(answer, body)


@fuzz
@given(body=bodies)
def test_any_body_to_astromech_gets_a_well_formed_answer(invoke, body):
    assert_well_formed(invoke("astromech", proxy_event("astromech", body)), body)
