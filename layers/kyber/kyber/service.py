"""What each function's classifier does: parse the request, pick the model, score the batch, build the answer."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import numpy as np
from aws_lambda_powertools.metrics import MetricUnit

from kyber.api import Face
from kyber.errors import ModelArtifactError, UnscorableRowsError
from kyber.monitoring import DataCapture, ModelMonitor
from kyber.observability import elapsed_ms, logger, metrics
from kyber.proxy_event import body_of
from kyber.registry import CrystalModel, get_registry
from kyber.responses import JsonResponse, prediction_json
from kyber.settings import SHADOW_MIN_REMAINING_MS, get_settings
from kyber.shadow import Shadow, request_id_of
from kyber.snapstart import register_hooks
from kyber.validation import (
    collection_paused,
    parse_crystal_batch,
    parse_json_body,
    parse_model_choice,
    require_object,
)

# Every 200 says which model scored the request, and which build of it.
MODEL_HEADER = "X-Kyber-Model"
MODEL_VERSION_HEADER = "X-Kyber-Model-Version"
# The droids' routes, one function each (template.yaml): what a path the API lacks is told.
DROID_ROUTES = ("/sklearn", "/pytorch", "/astromech")


def _droid_error(message: str, details: Mapping[str, object]) -> dict[str, object]:
    return {"message": message, **details}


def _droid_not_found(_path: str) -> dict[str, object]:
    *first, last = DROID_ROUTES
    return {"message": f"no such route; POST {', '.join(first)} or {last}"}


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
