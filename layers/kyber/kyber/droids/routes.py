"""The droids' route on a function's router, answered from the scorer the function serves: its face (errors as
{"message": ..., details}, on every path no other face claims), its answer to a request, and its description."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from typing import Any

from kyber.api import Face, Routes, failure_body, routes_text
from kyber.core import Scorer
from kyber.droids.request import crystal_batch_schema, parse_crystal_batch, parse_model_choice
from kyber.droids.response import prediction_response, prediction_schema
from kyber.errors import BATCH_TOO_LARGE_SCHEMA, CRYSTAL_DATA_PROBLEMS_SCHEMA, MAX_REPORTED_PROBLEMS
from kyber.proxy_event import ProxyEvent, body_of
from kyber.registry import CrystalModel
from kyber.responses import JsonResponse
from kyber.route_docs import (
    EXAMPLE_REQUEST_ID,
    EXAMPLE_ROWS,
    FAILURE_WHEN,
    MESSAGE,
    MODEL_HEADERS_DOC,
    Answer,
    ExampleRequest,
    JsonSchema,
    RouteDoc,
    object_schema,
)
from kyber.validation import collection_paused, parse_json_body, require_object


def _droid_error(message: str, details: Mapping[str, object]) -> dict[str, object]:
    return {"message": message, **details}


def _droid_not_found(_path: str, routes: Routes) -> dict[str, object]:
    return {"message": f"no such route; {routes_text(routes)}"}


def _droid_error_schema(required: list[str], details: Mapping[str, JsonSchema] | None = None) -> JsonSchema:
    return object_schema(required, {"message": MESSAGE, **(details or {})})


# The droids' face: {"message": ..., details} errors, on every path no other face claims.
DROIDS = Face(prefix="", error_body=_droid_error, not_found=_droid_not_found)


@dataclass(frozen=True)
class DroidsApi:
    """The droids' answers for the models a scorer serves. When the scorer's models are chosen by the request, its
    "model" picks one of them, checked before the data."""

    scorer: Scorer

    def classify(self, event: ProxyEvent) -> JsonResponse:
        raw_body, is_base64_encoded = body_of(event)
        scorer = self.scorer
        with collection_paused():
            payload = require_object(parse_json_body(raw_body, is_base64_encoded=is_base64_encoded))
            model = self._model_for(payload)
            batch = parse_crystal_batch(payload, feature_count=scorer.feature_count, max_rows=scorer.max_rows)
            del payload
        prediction = scorer.predict(model, batch)
        response = prediction_response(prediction)
        scorer.answered(event, prediction, response.body)
        return response

    def described(self, path: str, described_by: str | None) -> Callable[[], RouteDoc]:
        """What describes the droids' route at path to this scorer, when the document asks (its summary: the first
        line of described_by, the function's docstring)."""
        return partial(self.route_doc, path, (described_by or path).strip().splitlines()[0])

    def route_doc(self, path: str, summary: str) -> RouteDoc:
        """The droids' route described: its request and every answer, with this scorer's models and limits."""
        models = list(self.scorer.models) if self.scorer.chosen_by_request else None
        chosen = {"model": models[-1]} if models else {}
        labels = next(iter(self.scorer.models.values())).labels
        too_many = [EXAMPLE_ROWS[0]] * (self.scorer.max_rows + 1)
        answers = {
            HTTPStatus.OK: Answer(
                "Every row's most probable colour and every colour's score.",
                prediction_schema(labels),
                ExampleRequest({**chosen, "crystalData": EXAMPLE_ROWS}),
                headers=MODEL_HEADERS_DOC,
            ),
            HTTPStatus.UNPROCESSABLE_ENTITY: Answer(
                "The body is not a JSON object of crystalData rows of finite numbers, or holds rows the model "
                f"cannot score; errors lists at most {MAX_REPORTED_PROBLEMS} problems and errorCount counts them all.",
                _droid_error_schema(["message"], CRYSTAL_DATA_PROBLEMS_SCHEMA),
                ExampleRequest({**chosen, "crystalData": [[5.1, "3.5", 1.4]]}),
            ),
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE: Answer(
                "More rows than the limit, given as limit.",
                _droid_error_schema(["message", "limit"], BATCH_TOO_LARGE_SCHEMA),
                ExampleRequest({**chosen, "crystalData": too_many}),
            ),
            HTTPStatus.INTERNAL_SERVER_ERROR: Answer(
                FAILURE_WHEN,
                _droid_error_schema(["message", "requestId"], {"requestId": {"type": "string"}}),
                example=failure_body(DROIDS, EXAMPLE_REQUEST_ID),
            ),
        }
        if models:
            answers[HTTPStatus.BAD_REQUEST] = Answer(
                "The model is missing, not a string or unknown; it is checked before the data.",
                _droid_error_schema(["message"]),
                ExampleRequest({"model": "tensorflow", "crystalData": EXAMPLE_ROWS}),
            )
        request = crystal_batch_schema(self.scorer.feature_count, self.scorer.max_rows, models)
        return RouteDoc(f"classify_{path.strip('/')}", summary, dict(sorted(answers.items())), request)

    def _model_for(self, payload: dict[str, Any]) -> CrystalModel:
        if self.scorer.chosen_by_request:
            return self.scorer.models[parse_model_choice(payload, tuple(self.scorer.models))]
        (model,) = self.scorer.models.values()
        return model
