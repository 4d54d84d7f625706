"""Compiled models: the manifest, integrity checks and one ONNX Runtime session per model.

A registry loads each model at most once and keeps it for the life of the execution
environment; nothing here is created per request.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import onnxruntime as ort
import orjson
from aws_lambda_powertools import Logger

from kyber.errors import CrystalBatchError, ModelArtifactError, ModelFailureError
from kyber.labels import LabelsFileError, read_labels
from kyber.settings import get_settings
from kyber.validation import MAX_REPORTED_PROBLEMS

MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = 1

logger = Logger(child=True)


def sha256_of(path: Path) -> str:
    with path.open("rb") as artifact:
        return hashlib.file_digest(artifact, "sha256").hexdigest()


def _verified_file(models_dir: Path, entry: dict[str, Any]) -> Path:
    path = models_dir / entry["file"]
    if not path.is_file():
        raise ModelArtifactError(f"{path} is missing")
    actual = sha256_of(path)
    if actual != entry["sha256"]:
        raise ModelArtifactError(f"{path} has sha256 {actual}, the manifest says {entry['sha256']}")
    return path


def session_options() -> ort.SessionOptions:
    """How the service runs every model; the build checks parity under the same options."""
    options = ort.SessionOptions()
    # One request at a time per execution environment: extra threads only add spin-up cost.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


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

    def predict_proba(self, batch: np.ndarray) -> np.ndarray:
        """Scores of shape (rows, labels). Rows the model cannot score because their values lie beyond
        what it was verified on are a CrystalBatchError; any other misbehaviour is a ModelFailureError."""
        with np.errstate(over="ignore"):  # a double beyond float32 becomes inf: reported below, by row
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
        if unscored.size:
            self._reject_unscored(batch, unscored)
        return scores

    def _reject_unscored(self, batch: np.ndarray, unscored: np.ndarray) -> NoReturn:
        # Values a double holds can still overflow the model's arithmetic (float32 for PyTorch):
        # the native model gives no scores for them either.
        beyond = np.abs(batch[unscored]).max(axis=1) > self.verified_magnitude
        if not beyond.all():
            raise ModelFailureError(f"model {self.name} returned non-finite scores for values it was verified on")
        problem = f"the {self.name} model has no finite scores for values this large"
        rows = "row" if unscored.size == 1 else "rows"
        raise CrystalBatchError(
            f"crystalData has {unscored.size} {rows} the {self.name} model cannot score",
            errors=[{"row": int(row), "error": problem} for row in unscored[:MAX_REPORTED_PROBLEMS]],
            errorCount=int(unscored.size),
        )


class ModelRegistry:
    """The models of one models directory, each loaded on first use and then kept."""

    def __init__(self, models_dir: Path) -> None:
        self.models_dir = models_dir
        manifest_path = models_dir / MANIFEST_FILE
        try:
            self.manifest: dict[str, Any] = orjson.loads(manifest_path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ModelArtifactError(f"cannot read {manifest_path}: {exc}") from exc
        if self.manifest.get("format") != MANIFEST_FORMAT:
            raise ModelArtifactError(f"{manifest_path} is not manifest format {MANIFEST_FORMAT}")
        try:
            self.labels = read_labels(_verified_file(models_dir, self.manifest["labels_file"]))
        except LabelsFileError as exc:
            raise ModelArtifactError(f"bad labels file in {models_dir}: {exc}") from exc
        if list(self.labels) != self.manifest["labels"]:
            raise ModelArtifactError("the labels file and the manifest disagree")
        self.feature_count: int = self.manifest["feature_count"]
        self._models: dict[str, CrystalModel] = {}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.manifest["models"])

    def get(self, name: str) -> CrystalModel:
        model = self._models.get(name)
        if model is None:
            model = self._models[name] = self._load(name)
        return model

    def _load(self, name: str) -> CrystalModel:
        entry = self.manifest["models"][name]
        started = time.perf_counter()
        path = _verified_file(self.models_dir, entry)
        session = ort.InferenceSession(path, sess_options=session_options(), providers=["CPUExecutionProvider"])
        model = CrystalModel(
            name=name,
            labels=self.labels,
            session=session,
            input_name=entry["input_name"],
            input_dtype=np.dtype(entry["input_dtype"]),
            output_name=entry["probabilities_output"],
            verified_magnitude=float(entry["parity"]["max_abs_input"]),
        )
        logger.info(
            "model loaded",
            model=name,
            artifact=str(path),
            sha256=entry["sha256"],
            source_sha256=entry["source"]["sha256"],
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        return model


@lru_cache(maxsize=1)
def get_registry() -> ModelRegistry:
    """This execution environment's registry, over the models layer or the S3 model source."""
    settings = get_settings()
    if not settings.model_source:
        return ModelRegistry(settings.models_dir)
    from kyber.model_source import download_models

    started = time.perf_counter()
    models_dir = download_models(settings.model_source, settings.download_dir)
    logger.info(
        "models fetched",
        source=settings.model_source,
        duration_ms=round((time.perf_counter() - started) * 1000, 2),
    )
    return ModelRegistry(models_dir)
