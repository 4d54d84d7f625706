"""Whatever event reaches a handler, it answers with a status code and a JSON body, never a raise."""

from __future__ import annotations

import base64
import json
from http import HTTPStatus
from typing import Any

import pytest

from scripts.harness.events import proxy_event
from scripts.project import routes

VALID_BODY = '{"model": "pytorch", "crystalData": [[5.1, 3.5, 1.4, 0.2]]}'

NOT_PROXY_REQUESTS: dict[str, Any] = {
    "empty object": {},
    "S3 notification": {"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": "b"}}}]},
    "list": [{"httpMethod": "POST", "path": "/sklearn"}],
    "string": "POST /sklearn",
    "number": 42,
    "null": None,
    "no path": {"httpMethod": "POST", "body": VALID_BODY},
    "no method": {"path": "/sklearn", "body": VALID_BODY},
    "method not a string": {"httpMethod": 7, "path": "/sklearn", "body": VALID_BODY},
    "path not a string": {"httpMethod": "POST", "path": ["/sklearn"], "body": VALID_BODY},
}


def call(handler_module, lambda_context, route: str, event: Any) -> tuple[int, dict[str, Any]]:
    response = handler_module(route).lambda_handler(event, lambda_context)
    assert response["multiValueHeaders"]["Content-Type"] == ["application/json"]
    return response["statusCode"], json.loads(response["body"])


@pytest.mark.parametrize("route", routes())
@pytest.mark.parametrize("event", NOT_PROXY_REQUESTS.values(), ids=NOT_PROXY_REQUESTS.keys())
def test_an_event_that_is_not_a_routable_proxy_request_is_a_json_400(handler_module, lambda_context, route, event):
    status, body = call(handler_module, lambda_context, route, event)
    assert status == HTTPStatus.BAD_REQUEST
    assert body["message"].startswith("the event is not an API Gateway proxy request")


@pytest.mark.parametrize("route", routes())
@pytest.mark.parametrize(
    ("body", "kind"), [({"crystalData": [[5.1, 3.5, 1.4, 0.2]]}, "an object"), ([1, 2], "a list"), (42, "a number")]
)
def test_a_body_that_is_not_a_string_is_a_422(handler_module, lambda_context, route, body, kind):
    event = proxy_event(route, VALID_BODY)
    event["body"] = body
    status, answer = call(handler_module, lambda_context, route, event)
    assert status == HTTPStatus.UNPROCESSABLE_ENTITY
    assert answer == {"message": f"request body must be JSON text, got {kind} in the event"}


@pytest.mark.parametrize("route", routes())
@pytest.mark.parametrize("flag", ["false", "true", "False", 1, None])
def test_is_base64_encoded_other_than_boolean_true_leaves_the_body_as_it_is(
    handler_module, lambda_context, route, flag
):
    event = proxy_event(route, VALID_BODY)
    event["isBase64Encoded"] = flag
    status, answer = call(handler_module, lambda_context, route, event)
    assert status == HTTPStatus.OK
    assert len(answer["prediction"]) == 1


@pytest.mark.parametrize("route", routes())
def test_boolean_true_is_base64_encoded_decodes_the_body(handler_module, lambda_context, route):
    event = proxy_event(route, base64.b64encode(VALID_BODY.encode()).decode(), base64=True)
    status, answer = call(handler_module, lambda_context, route, event)
    assert status == HTTPStatus.OK
    assert len(answer["prediction"]) == 1


@pytest.mark.parametrize("route", routes())
@pytest.mark.parametrize("missing", ["headers", "multiValueHeaders", "requestContext", "queryStringParameters"])
def test_a_request_without_optional_parts_is_still_answered(handler_module, lambda_context, route, missing):
    event = proxy_event(route, VALID_BODY)
    event.pop(missing, None)
    status, answer = call(handler_module, lambda_context, route, event)
    assert status == HTTPStatus.OK
    assert len(answer["prediction"]) == 1


@pytest.mark.parametrize("route", routes())
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "get"])
def test_another_method_on_the_route_is_a_json_405_allowing_post(handler_module, lambda_context, route, method, capfd):
    event = proxy_event(route, VALID_BODY)
    event["httpMethod"] = method
    response = handler_module(route).lambda_handler(event, lambda_context)
    assert response["statusCode"] == HTTPStatus.METHOD_NOT_ALLOWED
    assert response["multiValueHeaders"]["Allow"] == ["POST"]
    assert response["multiValueHeaders"]["Content-Type"] == ["application/json"]
    message = f"{method.upper()} is not allowed on /{route}; use POST"
    assert json.loads(response["body"]) == {"message": message}
    (rejected,) = [
        json.loads(line) for line in capfd.readouterr().out.splitlines() if '"message":"request rejected"' in line
    ]
    assert rejected["status"] == HTTPStatus.METHOD_NOT_ALLOWED
    assert rejected["reason"] == f"{method.upper()} is not allowed on /{route}"


@pytest.mark.parametrize("route", routes())
def test_a_body_of_bytes_that_are_not_utf8_is_a_422(handler_module, lambda_context, route):
    event = proxy_event(route, base64.b64encode(b"\xff\xfe{\x00\x80crystalData").decode(), base64=True)
    status, answer = call(handler_module, lambda_context, route, event)
    assert status == HTTPStatus.UNPROCESSABLE_ENTITY
    assert answer["message"].startswith("request body is not valid JSON")
