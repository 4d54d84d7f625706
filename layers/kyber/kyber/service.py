"""What each function's classifier does: parse the request, pick the model, score the batch, build the answer."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from http import HTTPStatus
from typing import Any

import numpy as np
from aws_lambda_powertools.metrics import MetricUnit

from kyber.api import Face, Routes, failure_body, routes_text
from kyber.errors import (
    BATCH_TOO_LARGE_SCHEMA,
    CRYSTAL_DATA_PROBLEMS_SCHEMA,
    MAX_REPORTED_PROBLEMS,
    ModelArtifactError,
    UnscorableRowsError,
)
from kyber.monitoring import DataCapture, ModelMonitor
from kyber.observability import elapsed_ms, logger, metrics
from kyber.proxy_event import body_of
from kyber.registry import CrystalModel, get_registry
from kyber.responses import JsonResponse, prediction_json, prediction_schema
from kyber.route_docs import MESSAGE, Answer, ExampleRequest, JsonSchema, RouteDoc, object_schema
from kyber.settings import SHADOW_MIN_REMAINING_MS, get_settings
from kyber.shadow import Shadow, request_id_of
from kyber.snapstart import register_hooks
from kyber.validation import (
    collection_paused,
    crystal_batch_schema,
    parse_crystal_batch,
    parse_json_body,
    parse_model_choice,
    require_object,
)

# Every 200 says which model scored the request, and which build of it.
MODEL_HEADER = "X-Kyber-Model"
MODEL_VERSION_HEADER = "X-Kyber-Model-Version"
MODEL_HEADERS_DOC = {
    MODEL_HEADER: {"description": "The model that scored the rows.", "schema": {"type": "string"}},
    MODEL_VERSION_HEADER: {
        "description": "The first 12 hex digits of the served ONNX file's SHA-256.",
        "schema": {"type": "string", "pattern": "^[0-9a-f]{12}$"},
    },
}
# Two droids' samples, the examples the API's description shows on both faces.
EXAMPLE_ROWS = [[0.92, 0.12, 0.31, 0.09], [6.2, 2.9, 4.3, 1.3]]
# The request id of the API description's example of a 500.
EXAMPLE_REQUEST_ID = "c0ffee00-request-id"
FAILURE_WHEN = "The model failed; quote requestId when reporting it. Details are only in the logs."


def _droid_error(message: str, details: Mapping[str, object]) -> dict[str, object]:
    return {"message": message, **details}


def _droid_not_found(_path: str, routes: Routes) -> dict[str, object]:
    return {"message": f"no such route; {routes_text(routes)}"}


def _droid_error_schema(required: list[str], details: Mapping[str, JsonSchema] | None = None) -> JsonSchema:
    return object_schema(required, {"message": MESSAGE, **(details or {})})


# The droids' face: {"message": ..., details} errors, on every path no other face claims.
DROIDS = Face(prefix="", error_body=_droid_error, not_found=_droid_not_found)


@dataclass(frozen=True)
class Classifier:
    """What one route serves: its models, loaded and verified, and the limits a request must keep. When the
    request chooses, its "model" picks one of them, checked before the data."""

    models: Mapping[str, CrystalModel]
    feature_count: int
    max_rows: int
    chosen_by_request: bool
    monitors: Mapping[str, ModelMonitor]
    capture: DataCapture
    # Each served model's challenger, by model, when the models layer has one.
    shadows: Mapping[str, Shadow] = field(default_factory=dict)

    def classify(self, event: Mapping[str, Any]) -> JsonResponse:
        raw_body, is_base64_encoded = body_of(event)
        with collection_paused():
            payload = require_object(parse_json_body(raw_body, is_base64_encoded=is_base64_encoded))
            model = self._model_for(payload)
            batch = parse_crystal_batch(payload, feature_count=self.feature_count, max_rows=self.max_rows)
            del payload
        probabilities, top = self.scored(model, batch)
        answer = prediction_json(model.labels, probabilities, top)
        self.answered(event, model, batch, probabilities, answer)
        return JsonResponse(HTTPStatus.OK, answer, {MODEL_HEADER: model.name, MODEL_VERSION_HEADER: model.version})

    def score(self, model: CrystalModel, batch: np.ndarray) -> np.ndarray:
        """The model's scores of a checked batch, logged and counted, its figures written; rows it cannot score
        are a 422."""
        return self.scored(model, batch)[0]

    def scored(self, model: CrystalModel, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """As score, with each row's top label (the index of its highest score) too."""
        started = time.perf_counter()
        scores = model.score(batch)
        predict_ms = elapsed_ms(started, digits=3)
        if scores.unscorable_rows.size:
            raise UnscorableRowsError(model.name, tuple(scores.unscorable_rows.tolist()))
        metrics.add_metric(name="CrystalsClassified", unit=MetricUnit.Count, value=len(batch))
        logger.info(
            "crystals classified", model=model.name, version=model.version, rows=len(batch), predict_ms=predict_ms
        )
        top = scores.probabilities.argmax(axis=1)
        # The model figures (and the alarms on them) are the champion's: a client asking for the challenger's version
        # by name (the protocol's /versions/<version>) is logged, not counted in them.
        if self.models.get(model.name) is model:
            self.monitors[model.name].write(batch, scores.probabilities, top)
        return scores.probabilities, top

    def answered(
        self, event: Mapping[str, Any], model: CrystalModel, batch: np.ndarray, probabilities: np.ndarray, answer: str
    ) -> None:
        """Once the answer is built, which nothing here changes: the model's challenger scores the same rows when
        the request is picked for its shadow, and the request is written as a data-capture record (with the
        challenger's output, when it has one) when it is drawn."""
        shadow = self.shadows.get(model.name)
        outcome = None
        if shadow is not None and shadow.champion is model and shadow.picks(request_id_of(event)):
            outcome = shadow.run(batch, probabilities)
        if self.capture.sampled():
            self.capture.write(event, answer, outcome)

    def described(self, path: str, described_by: str | None) -> Callable[[], RouteDoc]:
        """What describes the droids' route at path to this classifier, when the document asks (its summary: the first
        line of described_by, the function's docstring)."""
        return partial(self.route_doc, path, (described_by or path).strip().splitlines()[0])

    def route_doc(self, path: str, summary: str) -> RouteDoc:
        """The droids' route described: its request and every answer, with this classifier's models and limits."""
        models = list(self.models) if self.chosen_by_request else None
        chosen = {"model": models[-1]} if models else {}
        labels = next(iter(self.models.values())).labels
        too_many = [EXAMPLE_ROWS[0]] * (self.max_rows + 1)
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
        request = crystal_batch_schema(self.feature_count, self.max_rows, models)
        return RouteDoc(f"classify_{path.strip('/')}", summary, dict(sorted(answers.items())), request)

    def _model_for(self, payload: dict[str, Any]) -> CrystalModel:
        if self.chosen_by_request:
            return self.models[parse_model_choice(payload, tuple(self.models))]
        (model,) = self.models.values()
        return model


def load_classifier(model: str | None = None) -> Classifier:
    """The classifier serving the named model; without a name, every model of the registry, the
    request's "model" picking one. Each is created and verified now, during the init: when an
    artifact fails its check, one ERROR line says which and why, and the execution environment
    stops before it answers anything (API Gateway then answers 502). With SnapStart, the loaded
    models are what the snapshot holds (kyber.snapstart)."""
    try:
        registry = get_registry()
        models = {name: registry.get(name) for name in ([model] if model else registry.names)}
        challengers = {name: found for name in models if (found := registry.challenger(name)) is not None}
    except ModelArtifactError as error:
        logger.error("model artifacts refused", reason=str(error))
        raise SystemExit(1) from None
    register_hooks([*models.values(), *challengers.values()], registry.feature_count)
    settings = get_settings()
    monitors = {
        name: ModelMonitor.create(
            namespace=metrics.namespace or "",
            service=metrics.service or "",
            model=name,
            labels=served.labels,
            training_range=registry.manifest.training_range,
            max_rows=settings.max_rows,
            low_confidence_threshold=settings.low_confidence_threshold,
        )
        for name, served in models.items()
    }
    return Classifier(
        models=models,
        feature_count=registry.feature_count,
        max_rows=settings.max_rows,
        chosen_by_request=model is None,
        monitors=monitors,
        capture=DataCapture(settings.data_capture_percent),
        shadows={
            name: Shadow.create(
                namespace=metrics.namespace or "",
                service=metrics.service or "",
                champion=models[name],
                challenger=challenger,
                percent=settings.shadow_percent,
                min_remaining_ms=SHADOW_MIN_REMAINING_MS,
            )
            for name, challenger in challengers.items()
        },
    )
