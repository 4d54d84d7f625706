"""A model that fails while predicting gives a generic 500 with the request id; details only in logs."""

from __future__ import annotations

import dataclasses
import json
from http import HTTPStatus
from typing import Any

import numpy as np
import pytest

from scripts.harness.events import load_event

SECRET = "onnxruntime exploded at /opt/models/secret-path"


class ExplodingSession:
    def run(self, *_: object) -> list[np.ndarray]:
        raise RuntimeError(SECRET)


class NaNSession:
    def run(self, _: object, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        (batch,) = feeds.values()
        return [np.full((len(batch), 3), np.nan)]


class WrongShapeSession:
    def run(self, _: object, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        (batch,) = feeds.values()
        return [np.full((len(batch), 2), 0.5)]


def with_session(handler: Any, model: str, session: object) -> None:
    """Give the handler's model a fake ONNX Runtime session, as if the real one misbehaved."""
    models = handler.scorer.models
    models[model] = dataclasses.replace(models[model], session=session)


@pytest.mark.parametrize("session", [ExplodingSession(), NaNSession(), WrongShapeSession()])
@pytest.mark.parametrize("route", ["sklearn", "pytorch"])
def test_failing_model_is_a_generic_500_with_the_request_id(handler_module, lambda_context, capfd, route, session):
    # Given a route whose model misbehaves
    handler = handler_module(route)
    with_session(handler, route, session)
    capfd.readouterr()
    # When a droid asks it
    response = handler.lambda_handler(load_event(f"{route}_single.json"), lambda_context)
    # Then it gets a generic JSON 500 carrying the request id, and the log has the details
    assert response["statusCode"] == HTTPStatus.INTERNAL_SERVER_ERROR
    body = json.loads(response["body"])
    assert body == {
        "message": "internal error while predicting; quote the requestId when reporting it",
        "requestId": lambda_context.aws_request_id,
    }
    log = capfd.readouterr().out
    assert "request failed" in log
    assert lambda_context.aws_request_id in log
    assert f"model {route} " in log


def test_exception_text_stays_in_the_log(handler_module, lambda_context, capfd):
    handler = handler_module("astromech")
    with_session(handler, "pytorch", ExplodingSession())
    capfd.readouterr()
    response = handler.lambda_handler(load_event("astromech_pytorch_batch.json"), lambda_context)
    assert response["statusCode"] == HTTPStatus.INTERNAL_SERVER_ERROR
    assert SECRET not in response["body"]
    assert "Traceback" not in response["body"]
    assert SECRET in capfd.readouterr().out


def test_unexpected_error_outside_the_model_is_also_a_generic_500(handler_module, lambda_context, monkeypatch):
    handler = handler_module("sklearn")

    def broken_body(*_: object) -> dict:
        raise KeyError(SECRET)

    monkeypatch.setattr("kyber.droids.response.prediction_json", broken_body)
    response = handler.lambda_handler(load_event("sklearn_single.json"), lambda_context)
    assert response["statusCode"] == HTTPStatus.INTERNAL_SERVER_ERROR
    assert json.loads(response["body"])["requestId"] == lambda_context.aws_request_id
    assert SECRET not in response["body"]
