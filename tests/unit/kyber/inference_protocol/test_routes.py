"""The protocol's routes on a function: each health, metadata and readiness answer counted as one ProtocolQueries by
service (as docs/operations.md lists it), and a path under /v2 the function lacks answered naming it (at a bounded
length) and the routes it has."""

from __future__ import annotations

import base64
import json
from http import HTTPStatus

import pytest

from scripts.harness.events import protocol_event


def metric_records(output: str) -> list[dict]:
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [record for record in records if "_aws" in record]


@pytest.mark.parametrize(
    ("function", "path"),
    [
        ("astromech", "/v2"),
        ("astromech", "/v2/health/live"),
        ("astromech", "/v2/health/ready"),
        ("sklearn", "/v2/models/sklearn"),
        ("pytorch", "/v2/models/pytorch/ready"),
    ],
)
def test_each_health_metadata_and_readiness_answer_is_one_protocol_query(invoke, capfd, function, path):
    capfd.readouterr()
    # When the route is asked
    answer = invoke(function, protocol_event(function, "GET", path))
    # Then it answers, and its metric line counts one ProtocolQueries
    assert answer.status == HTTPStatus.OK
    (record,) = [record for record in metric_records(capfd.readouterr().out) if "ProtocolQueries" in record]
    assert record["ProtocolQueries"] == [1.0]
    assert record["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "ProtocolQueries", "Unit": "Count"}]
    assert record["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]


def test_a_long_path_the_function_lacks_is_named_up_to_a_hundred_characters(invoke):
    path = "/v2/repository/" + "x" * 84 + "yz" + "w" * 50
    answer = invoke("sklearn", protocol_event("sklearn", "GET", path))
    assert answer.status == HTTPStatus.NOT_FOUND
    assert answer.body["error"].startswith(f"no such route: {path[:100]}; the protocol's routes here are ")
    assert path[:101] not in answer.body["error"]


def test_a_long_unknown_model_or_version_is_quoted_up_to_forty_characters(invoke):
    name = "m" * 39 + "no" + "x" * 20
    answer = invoke("astromech", protocol_event("astromech", "GET", f"/v2/models/{name}"))
    assert answer.status == HTTPStatus.NOT_FOUND
    assert answer.body == {"error": f"unknown model '{name[:40]}': this route serves 'sklearn' and 'pytorch'"}
    version = "v" * 39 + "no" + "x" * 20
    answer = invoke("sklearn", protocol_event("sklearn", "GET", f"/v2/models/sklearn/versions/{version}"))
    assert answer.status == HTTPStatus.NOT_FOUND
    assert answer.body["error"].startswith(f"model 'sklearn' has no version '{version[:40]}'; it serves version ")


def test_an_inference_request_whose_body_api_gateway_base64_encoded_is_read_as_its_json(invoke):
    # Given the same inference request as JSON text and base64-encoded (API Gateway's form for a binary media type)
    body = json.dumps({"inputs": [{"name": "crystal_data", "shape": [1, 4], "datatype": "FP64", "data": [5, 3, 1, 0]}]})
    plain = protocol_event("sklearn", "POST", "/v2/models/sklearn/infer", body)
    encoded = protocol_event("sklearn", "POST", "/v2/models/sklearn/infer", base64.b64encode(body.encode()).decode())
    encoded["isBase64Encoded"] = True
    # When both are answered, then the answers are the same
    first, second = invoke("sklearn", plain), invoke("sklearn", encoded)
    assert (first.status, second.status) == (HTTPStatus.OK, HTTPStatus.OK)
    assert second.raw_body == first.raw_body
