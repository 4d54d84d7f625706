"""The sample API Gateway events in events/, what each must answer, builders for others, and a Lambda
context to call a handler with: what the tests and the tools both use to call the service in-process."""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from functools import cache
from http import HTTPStatus
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"
# A droid's sample of setosa-like ore, as the Iris data set measures it.
SAMPLE_ROW = [5.1, 3.5, 1.4, 0.2]

EXPECTED_STATUS: dict[str, HTTPStatus] = {
    "sklearn_single.json": HTTPStatus.OK,
    "sklearn_batch.json": HTTPStatus.OK,
    "sklearn_bad_data.json": HTTPStatus.UNPROCESSABLE_ENTITY,
    "pytorch_single.json": HTTPStatus.OK,
    "pytorch_batch.json": HTTPStatus.OK,
    "pytorch_bad_data.json": HTTPStatus.UNPROCESSABLE_ENTITY,
    "astromech_sklearn_single.json": HTTPStatus.OK,
    "astromech_pytorch_batch.json": HTTPStatus.OK,
    "astromech_bad_data.json": HTTPStatus.UNPROCESSABLE_ENTITY,
    "astromech_bad_model.json": HTTPStatus.BAD_REQUEST,
    "astromech_bad_model_and_data.json": HTTPStatus.BAD_REQUEST,
    # The Open Inference Protocol, served by the same functions
    "sklearn_v2_infer.json": HTTPStatus.OK,
    "sklearn_v2_model_metadata.json": HTTPStatus.OK,
    "pytorch_v2_infer_classification.json": HTTPStatus.OK,
    "pytorch_v2_infer_bad_shape.json": HTTPStatus.BAD_REQUEST,
    "astromech_v2_server_ready.json": HTTPStatus.OK,
    "astromech_v2_server_metadata.json": HTTPStatus.OK,
    "astromech_v2_unknown_model.json": HTTPStatus.NOT_FOUND,
    "astromech_v2_infer_not_finite.json": HTTPStatus.UNPROCESSABLE_ENTITY,
}


@cache
def _read_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS_DIR / name).read_text())


def load_event(name: str) -> dict[str, Any]:
    return copy.deepcopy(_read_event(name))


def route_of(name: str) -> str:
    """The function a sample event is sent to, named by its native route: its file name's first word."""
    return name.split("_", 1)[0]


def speaks_inference_protocol(name: str) -> bool:
    """Whether a sample event is an Open Inference Protocol request (its answer's errors are {"error": ...})."""
    return name.split("_")[1] == "v2"


def protocol_event(route: str, method: str, path: str, body: str | None = None, **headers: str) -> dict[str, Any]:
    """An API Gateway REST proxy event for an Open Inference Protocol request to route's function."""
    event = single_row_event(route)
    event.update(httpMethod=method, path=path, body=body, isBase64Encoded=False)
    event["headers"] = {"Host": "localhost:3000", **headers}
    event["multiValueHeaders"] = {name: [value] for name, value in event["headers"].items()}
    return event


def single_row_event(route: str) -> dict[str, Any]:
    """The sample event of one valid row for the route (for /astromech, with the scikit-learn model)."""
    return load_event("astromech_sklearn_single.json" if route == "astromech" else f"{route}_single.json")


def proxy_event(route: str, body: str | None, *, base64: bool = False) -> dict[str, Any]:
    """An API Gateway REST proxy event for POST /<route> carrying the raw body given."""
    event = single_row_event(route)
    event["body"] = body
    event["isBase64Encoded"] = base64
    return event


def body_for(route: str, crystal_data_json: str, model: str = "sklearn") -> str:
    """A raw body carrying crystalData exactly as written, and for /astromech the model's name."""
    model_field = f'"model": "{model}", ' if route == "astromech" else ""
    return "{" + model_field + '"crystalData": ' + crystal_data_json + "}"


def json_event(route: str, payload: Any) -> dict[str, Any]:
    return proxy_event(route, json.dumps(payload))


@dataclass
class FakeLambdaContext:
    function_name: str = "kyber-test"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:kyber-test"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 10_000
