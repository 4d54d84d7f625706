"""The core every face of a function serves: its models, loaded and verified during init, a checked batch scored
(logged, counted, the champion's model figures written), and what follows an answer (the challenger's shadow, the
data capture). It knows nothing of HTTP: each face reads its requests and writes its answers (kyber.droids,
kyber.inference_protocol)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aws_lambda_powertools.metrics import MetricUnit

from kyber.errors import ModelArtifactError, ModelNotFoundError, UnscorableRowsError
from kyber.monitoring import DataCapture, ModelMonitor
from kyber.observability import elapsed_ms, logger, metrics
from kyber.registry import CrystalModel, get_registry
from kyber.settings import SHADOW_MIN_REMAINING_MS, get_settings
from kyber.shadow import Shadow, request_id_of
from kyber.snapstart import register_hooks


@dataclass(frozen=True)
class Prediction:
    """A model's scores of a batch: every label's score per row, and each row's top label (the index of its highest
    score)."""

    model: CrystalModel
    rows: np.ndarray
    probabilities: np.ndarray
    top: np.ndarray


@dataclass(frozen=True)
class Scorer:
    """What one function serves: its models, loaded and verified, the limits a batch must keep, and each model's
    figures, challenger and data capture. When chosen_by_request, a request names one of the models."""

    models: Mapping[str, CrystalModel]
    feature_count: int
    max_rows: int
    chosen_by_request: bool
    monitors: Mapping[str, ModelMonitor]
    capture: DataCapture
    # Each served model's challenger, by model, when the models layer has one.
    shadows: Mapping[str, Shadow] = field(default_factory=dict)

    def model(self, name: str, version: str | None = None) -> CrystalModel:
        """The named model: its champion, unless the version asked for is its challenger's."""
        model = self.models.get(name)
        if model is None:
            served = " and ".join(repr(served) for served in self.models)
            raise ModelNotFoundError(f"unknown model {name[:40]!r}: this route serves {served}")
        if version is None:
            return model
        versions = self.versions(name)
        if version not in versions:
            listed = " and ".join(repr(served) for served in versions)
            raise ModelNotFoundError(f"model {name!r} has no version {version[:40]!r}; it serves version {listed}")
        return versions[version]

    def versions(self, name: str) -> dict[str, CrystalModel]:
        """The named model's versions: the champion's, then its challenger's when it has one."""
        champion = self.models[name]
        shadow = self.shadows.get(name)
        served = [champion] if shadow is None else [champion, shadow.challenger]
        return {model.version: model for model in served}

    def predict(self, model: CrystalModel, batch: np.ndarray) -> Prediction:
        """The model's prediction for a checked batch, logged and counted, the model figures written; rows it cannot
        score raise UnscorableRowsError."""
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
        return Prediction(model, batch, scores.probabilities, top)

    def answered(self, event: Mapping[str, Any], prediction: Prediction, answer: str) -> None:
        """Once a face has written its answer (the text given), which nothing here changes: the model's challenger
        scores the same rows when the request (the event, read only for its id and body) is picked for its shadow,
        and the request is written as a data-capture record (with the challenger's output, when it has one) when it
        is drawn."""
        model = prediction.model
        shadow = self.shadows.get(model.name)
        outcome = None
        if shadow is not None and shadow.champion is model and shadow.picks(request_id_of(event)):
            outcome = shadow.run(prediction.rows, prediction.probabilities)
        if self.capture.sampled():
            self.capture.write(event, answer, outcome)


def load_scorer(model: str | None = None) -> Scorer:
    """The scorer of the named model; without a name, of every model of the registry, a request naming one. Each
    is created and verified now, during the init: when an artifact fails its check, one ERROR line says which and
    why, and the execution environment stops before it answers anything (API Gateway then answers 502). With
    SnapStart, the loaded models are what the snapshot holds (kyber.snapstart)."""
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
    return Scorer(
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
