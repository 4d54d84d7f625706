"""Compiled models: one verified ONNX Runtime session per model, created once per execution environment."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from kyber.errors import ModelArtifactError, ModelFailureError
from kyber.labels import LabelsFileError, read_labels
from kyber.manifest import Manifest, ModelEntry, read_manifest, session_options, verified_file
from kyber.model_source import download_models
from kyber.observability import elapsed_ms, logger
from kyber.settings import get_settings


@dataclass(frozen=True)
class Scores:
    """What a model made of a batch: one row of label scores per row, and the rows it could not score
    because their values are too large for its own arithmetic (the native model has none for them either)."""

    probabilities: np.ndarray
    unscorable_rows: np.ndarray


@dataclass(frozen=True)
class CrystalModel:
    """One compiled model: a live ONNX Runtime session and the labels of its outputs."""

    name: str
    labels: tuple[str, ...]
    session: ort.InferenceSession
    input_name: str
    input_dtype: np.dtype[Any]
    output_name: str
    # The build checked this model's scores against its native library for |values| up to here.
    verified_magnitude: float
    # Which build of the model this is: the first 12 hex digits of its ONNX file's SHA-256.
    version: str

    def score(self, batch: np.ndarray) -> Scores:
        """Scores of shape (rows, labels); a ModelFailureError when the model misbehaves."""
        with np.errstate(over="ignore"):  # a double beyond float32 becomes inf: found below, by row
            features = batch.astype(self.input_dtype, copy=False)
        try:
            (scores,) = self.session.run([self.output_name], {self.input_name: features})
        except Exception as exc:
            raise ModelFailureError(f"model {self.name} failed to predict") from exc
        scores = np.asarray(scores, dtype=np.float64)
        if scores.shape != (len(batch), len(self.labels)):
            raise ModelFailureError(
                f"model {self.name} returned shape {scores.shape} for {len(batch)} rows and {len(self.labels)} labels"
            )
        unscored = np.flatnonzero(~np.isfinite(scores).all(axis=1))
        # Values a double holds can still overflow the model's arithmetic (float32 for PyTorch);
        # non-finite scores for values the build verified the model on are the model failing.
        if unscored.size and not (np.abs(batch[unscored]).max(axis=1) > self.verified_magnitude).all():
            raise ModelFailureError(f"model {self.name} returned non-finite scores for values it was verified on")
        return Scores(probabilities=scores, unscorable_rows=unscored)


class ModelRegistry:
    """The models of one models directory, every file checked against its manifest; each session is created once."""

    def __init__(self, models_dir: Path) -> None:
        self.models_dir = models_dir
        self.manifest: Manifest = read_manifest(models_dir)
        labels_path = verified_file(models_dir, self.manifest.labels_file)
        try:
            self.labels = read_labels(labels_path)
        except LabelsFileError as exc:
            raise ModelArtifactError(f"{labels_path}: {exc}") from exc
        if self.labels != self.manifest.labels:
            raise ModelArtifactError(
                f"{labels_path} names {list(self.labels)}, the manifest says {list(self.manifest.labels)}"
            )
        self.feature_count = self.manifest.feature_count
        # Every file of the layer is checked now, whichever models this function serves.
        self._paths = {name: verified_file(models_dir, entry.artifact) for name, entry in self.manifest.models.items()}
        self._challenger_paths = {
            name: verified_file(models_dir, entry.artifact) for name, entry in self.manifest.challengers.items()
        }
        for entry in (*self.manifest.models.values(), *self.manifest.challengers.values()):
            verified_file(models_dir, entry.card)
        self._models: dict[str, CrystalModel] = {}
        self._challengers: dict[str, CrystalModel] = {}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.manifest.models)

    def get(self, name: str) -> CrystalModel:
        model = self._models.get(name)
        if model is None:
            model = self._models[name] = self._load(name, self.manifest.models[name], self._paths[name], "champion")
        return model

    def challenger(self, name: str) -> CrystalModel | None:
        """The candidate built beside the named model, verified and loaded like it; None when it has none."""
        if name not in self.manifest.challengers:
            return None
        model = self._challengers.get(name)
        if model is None:
            entry, path = self.manifest.challengers[name], self._challenger_paths[name]
            model = self._challengers[name] = self._load(name, entry, path, "challenger")
        return model

    def _load(self, name: str, entry: ModelEntry, path: Path, role: str) -> CrystalModel:
        started = time.perf_counter()
        session = ort.InferenceSession(path, sess_options=session_options(), providers=["CPUExecutionProvider"])
        model = CrystalModel(
            name=name,
            labels=self.labels,
            session=session,
            input_name=entry.input_name,
            input_dtype=np.dtype(entry.input_dtype),
            output_name=entry.probabilities_output,
            verified_magnitude=entry.parity.max_abs_input,
            version=entry.sha256[:12],
        )
        logger.info(
            "model loaded",
            model=name,
            role=role,
            version=model.version,
            artifact=str(path),
            sha256=entry.sha256,
            source_sha256=entry.source.sha256,
            # From the manifest, which holds the card's headline figures, so the init parses no card.
            accuracy=entry.evaluation.accuracy,
            evaluation_rows=entry.evaluation.rows,
            duration_ms=elapsed_ms(started),
        )
        return model


def check_labels(registry: ModelRegistry, expected: tuple[str, ...] | None) -> ModelRegistry:
    """The registry, when its labels are those the stack watches: a model set with other labels would write
    Predictions under labels no alarm watches, so it is refused during the init (at publish, before any traffic)."""
    if expected is not None and registry.labels != expected:
        raise ModelArtifactError(
            f"the stack's Labels parameter names {list(expected)}, the models' labels file {list(registry.labels)}: "
            f"deploy with Labels={','.join(registry.labels)}"
        )
    return registry


@lru_cache(maxsize=1)
def get_registry() -> ModelRegistry:
    """This execution environment's registry, over the models layer or the S3 model source, with the labels the
    stack watches."""
    settings = get_settings()
    models_dir = settings.models_dir
    if settings.model_source:
        started = time.perf_counter()
        models_dir = download_models(settings.model_source, settings.download_dir)
        logger.info("models fetched", source=settings.model_source, duration_ms=elapsed_ms(started))
    return check_labels(ModelRegistry(models_dir), settings.expected_labels)
