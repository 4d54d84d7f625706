"""The API over real HTTP, as droids reach it on port 3000 through sam local start-api (or API_URL)."""

from __future__ import annotations

import json
from collections import Counter
from http import HTTPStatus

import pytest

from scripts.harness.events import EXPECTED_STATUS, SAMPLE_ROW, body_for, load_event, route_of
from scripts.harness.local_api import post, send
from scripts.project import built_models, routes
from tests.support.service import ROW_LIMIT

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("name", sorted(EXPECTED_STATUS))
def test_http_answer_equals_the_in_process_answer(api_url, invoke, name):
    # Given a sample event, and what its handler answers in-process on the built models
    event = load_event(name)
    route = route_of(name)
    expected = invoke(route, event)
    # When the same request is sent over HTTP
    answer = send(event["httpMethod"], f"{api_url}{event['path']}", event["body"])
    # Then status and JSON body are the same
    assert answer.status == expected.status == EXPECTED_STATUS[name]
    assert answer.content_type == "application/json"
    assert answer.body == expected.body


@pytest.mark.parametrize("route", routes())
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_another_method_is_a_405_allowing_post(api_url, route, method):
    answer = send(method, f"{api_url}/{route}", body_for(route, json.dumps([SAMPLE_ROW]), model="pytorch"))
    assert answer.status == HTTPStatus.METHOD_NOT_ALLOWED
    assert answer.headers["Allow"] == "POST"
    assert answer.body == {"message": f"{method} is not allowed on /{route}; use POST"}


@pytest.mark.parametrize("route", routes())
def test_single_and_batch_over_http(api_url, route):
    single = post(f"{api_url}/{route}", body_for(route, "[[0.92, 0.12, 0.31, 0.09]]", model="pytorch"))
    batch = post(
        f"{api_url}/{route}",
        body_for(route, json.dumps([SAMPLE_ROW, [6.2, 2.9, 4.3, 1.3]] * 50), model="pytorch"),
    )
    assert single.status == batch.status == HTTPStatus.OK
    assert len(single.body["prediction"]) == 1
    assert len(batch.body["prediction"]) == len(batch.body["scores"]) == 100
    assert set(batch.body["scores"][0]) == {"blue", "green", "yellow"}


UNPROCESSABLE = {
    "not JSON": "crystals!",
    "truncated": '{"crystalData": [[5.1, 3.5',
    "empty": "",
    "not an object": "[[5.1, 3.5, 1.4, 0.2]]",
    "crystalData missing": "{}",
    "crystalData not a list": '{"crystalData": "5.1,3.5,1.4,0.2"}',
    "crystalData empty": '{"crystalData": []}',
    "row not a list": '{"crystalData": [5.1]}',
    "row of 3": '{"crystalData": [[5.1, 3.5, 1.4]]}',
    "row of 5": '{"crystalData": [[5.1, 3.5, 1.4, 0.2, 0.1]]}',
    "string": '{"crystalData": [[5.1, "x", 1.4, 0.2]]}',
    "numeric string": '{"crystalData": [[5.1, "3.5", 1.4, 0.2]]}',
    "boolean": '{"crystalData": [[5.1, true, 1.4, 0.2]]}',
    "null": '{"crystalData": [[5.1, null, 1.4, 0.2]]}',
    "nested list": '{"crystalData": [[5.1, [3.5], 1.4, 0.2]]}',
    "NaN": '{"crystalData": [[5.1, NaN, 1.4, 0.2]]}',
    "Infinity": '{"crystalData": [[5.1, Infinity, 1.4, 0.2]]}',
    "overflow": '{"crystalData": [[5.1, 1e400, 1.4, 0.2]]}',
}


@pytest.mark.parametrize("route", routes())
@pytest.mark.parametrize("body", UNPROCESSABLE.values(), ids=UNPROCESSABLE.keys())
def test_every_data_anomaly_is_422_over_http(api_url, route, body):
    if route == "astromech" and body.startswith("{"):
        body = '{"model": "sklearn", ' + body[1:] if body != "{}" else '{"model": "sklearn"}'
    answer = post(f"{api_url}/{route}", body)
    assert answer.status == HTTPStatus.UNPROCESSABLE_ENTITY
    assert answer.content_type == "application/json"
    assert answer.body["message"]


@pytest.mark.parametrize("model", [None, "null", "7", '"torch"', '"Sklearn"'])
@pytest.mark.parametrize("crystal_data", ["[[5.1, 3.5, 1.4, 0.2]]", '[["x"]]'])
def test_bad_model_is_400_before_any_data_check(api_url, model, crystal_data):
    body = "{" + (f'"model": {model}, ' if model else "") + f'"crystalData": {crystal_data}' + "}"
    answer = post(f"{api_url}/astromech", body)
    assert answer.status == HTTPStatus.BAD_REQUEST
    assert answer.body["message"]


@pytest.mark.parametrize("route", routes())
def test_too_many_rows_is_413_over_http(api_url, route):
    over = ROW_LIMIT + 1
    answer = post(f"{api_url}/{route}", body_for(route, json.dumps([SAMPLE_ROW] * over), model="pytorch"))
    assert answer.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert answer.body == {
        "message": f"crystalData has {over} rows; the limit is {ROW_LIMIT} rows per request",
        "limit": ROW_LIMIT,
    }


def test_models_load_once_per_container_and_stay_cached(api_url, local_api):
    if local_api is None:
        pytest.skip("API_URL names an API whose logs this test cannot read")
    # Given many requests to every route and both of /astromech's models
    for _ in range(15):
        for route, model in [
            ("sklearn", None),
            ("pytorch", None),
            ("astromech", "sklearn"),
            ("astromech", "pytorch"),
        ]:
            payload = {"crystalData": [SAMPLE_ROW]} | ({"model": model} if model else {})
            answer = post(f"{api_url}/{route}", json.dumps(payload))
            assert answer.status == HTTPStatus.OK
    # Then each function loaded each of its models once, and reported one cold start
    logs = local_api.json_logs()
    loads = Counter(record["model"] for record in logs if record.get("message") == "model loaded")
    assert loads == Counter({"sklearn": 2, "pytorch": 2})
    cold_starts = Counter(record["function_name"] for record in logs if "ColdStart" in record)
    assert cold_starts == Counter({"SklearnFunction": 1, "PytorchFunction": 1, "AstromechFunction": 1})
    served = [record for record in logs if record.get("message") == "crystals classified"]
    assert len(served) >= 60
    warm = Counter(record["function_name"] for record in served if record["cold_start"] is False)
    assert all(warm[name] >= 14 for name in ("SklearnFunction", "PytorchFunction")), warm
    assert warm["AstromechFunction"] >= 29, warm


@pytest.mark.parametrize(("route", "model"), [("sklearn", "sklearn"), ("pytorch", "pytorch"), ("astromech", "pytorch")])
def test_each_answer_over_http_names_the_model_and_its_build(api_url, route, model):
    answer = post(f"{api_url}/{route}", body_for(route, json.dumps([SAMPLE_ROW]), model=model))
    assert answer.status == HTTPStatus.OK
    assert answer.headers["X-Kyber-Model"] == model
    # the build this API serves: the project's own `sam build`, for sam local and for a stack deployed from it
    built = json.loads((built_models() / "manifest.json").read_text())
    assert answer.headers["X-Kyber-Model-Version"] == built["models"][model]["sha256"][:12]
