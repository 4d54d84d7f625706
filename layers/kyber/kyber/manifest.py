"""The models layer's manifest: written by the models build, read by the service, in one typed format.

It names every file of the layer with its SHA-256, each model's ONNX input and output, the parity
figures the build measured, the headline of its evaluation (the whole of it is in its model card), what its
serving-cost gate held it to, and the range of each feature in the models' training data; `verified_file` is
how the service checks a file still matches it, and `session_options` how both the build and the service run a
model.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import onnxruntime as ort

from kyber.errors import ModelArtifactError

MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = 2
LABELS_FILE = "output_labels.txt"
# Delivered beside the models: each feature's smallest and largest value in the data they were trained on.
TRAINING_RANGE_FILE = "training_range.json"
# The folder, in a delivery and in the built layer alike, that holds the challengers: candidates built beside the
# models they may replace.
CHALLENGER_DIR = "challenger"


@dataclass(frozen=True)
class FileRef:
    file: str
    sha256: str


@dataclass(frozen=True)
class Parity:
    """How closely the ONNX export matched its native model on the build's probe rows."""

    rows: int
    max_abs_diff: float
    tolerance: float
    # The largest |value| probed: scores were finite and matched up to here, which the service
    # uses to tell values too large for the model (a 422) from a model that fails (a 500).
    max_abs_input: float


@dataclass(frozen=True)
class Evaluation:
    """What the model, served through its ONNX file, scored on the build's evaluation rows."""

    rows: int
    data_sha256: str
    accuracy: float
    lowest_recall: float
    log_loss: float


@dataclass(frozen=True)
class ServingCost:
    """What the build's serving-cost gate held the model to: its ONNX file's size, and the limits, from the gate
    file, that its measured session load, memory added and request times were each within. The times themselves
    are printed by the build and kept in its cost record, not here: they differ from run to run, and the same
    delivery must build the same manifest, whose hash names a release."""

    onnx_bytes: int
    gate: str
    limits: Mapping[str, float]


@dataclass(frozen=True)
class TrainingRange:
    """Each feature's smallest and largest value in the models' training data, and what the build read them from."""

    minimum: tuple[float, ...]
    maximum: tuple[float, ...]
    source: str

    def to_json(self) -> str:
        return json.dumps({"minimum": list(self.minimum), "maximum": list(self.maximum)}, indent=2) + "\n"

    @classmethod
    def from_document(cls, document: Any, where: str, source: str) -> TrainingRange:
        """The range in a JSON object {"minimum": [...], "maximum": [...]}; a ModelArtifactError when it is not one."""
        fields = _Fields(document, where)
        minimum, maximum = fields.numbers("minimum"), fields.numbers("maximum")
        if len(minimum) != len(maximum) or any(low > high for low, high in zip(minimum, maximum, strict=True)):
            raise ModelArtifactError(f"{where}: minimum and maximum must pair up, each minimum at most its maximum")
        return cls(minimum=minimum, maximum=maximum, source=source)

    @classmethod
    def read(cls, path: Path) -> TrainingRange:
        try:
            document = json.loads(path.read_bytes())
        except (OSError, ValueError) as exc:
            raise ModelArtifactError(f"cannot read {path}: {exc}") from None
        return cls.from_document(document, str(path), source=path.name)


@dataclass(frozen=True)
class ModelEntry:
    file: str
    sha256: str
    input_name: str
    input_dtype: str
    probabilities_output: str
    source: FileRef
    parity: Parity
    evaluation: Evaluation
    card: FileRef
    # Absent from manifests built before the build recorded it.
    serving_cost: ServingCost | None = None

    @property
    def artifact(self) -> FileRef:
        return FileRef(self.file, self.sha256)


@dataclass(frozen=True)
class Manifest:
    format: int
    labels: tuple[str, ...]
    labels_file: FileRef
    feature_count: int
    models: Mapping[str, ModelEntry]
    built_with: Mapping[str, str]
    # Absent from manifests built before the build recorded it: the service then counts no such rows.
    training_range: TrainingRange | None = None
    # A candidate per served model, built beside it (paths under CHALLENGER_DIR); written only when there is one,
    # so a layer without challengers keeps the manifest it always had.
    challengers: Mapping[str, ModelEntry] = field(default_factory=dict)

    def files(self) -> list[str]:
        """The names of the files the manifest describes, beside it in the models folder."""
        models = [*self.models.values(), *self.challengers.values()]
        return [self.labels_file.file, *(entry.file for entry in models), *(entry.card.file for entry in models)]

    def to_json(self) -> str:
        document = asdict(self)
        if not self.challengers:
            del document["challengers"]
        for entries in ("models", "challengers"):
            for entry in document.get(entries, {}).values():
                if entry["serving_cost"] is None:
                    del entry["serving_cost"]
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def from_json(cls, raw: bytes, where: Path) -> Manifest:
        """The manifest in raw; a ModelArtifactError naming what is wrong when it is not one."""
        try:
            document = json.loads(raw)
        except ValueError as exc:
            raise ModelArtifactError(f"{where} is not JSON: {exc}") from None
        fields = _Fields(document, str(where))
        if fields.get("format", int) != MANIFEST_FORMAT:
            raise ModelArtifactError(f"{where} is not manifest format {MANIFEST_FORMAT}")
        models = fields.get("models", dict)
        feature_count = fields.get("feature_count", int)
        challengers = fields.get("challengers", dict) if "challengers" in document else {}
        if unknown := sorted(set(challengers) - set(models)):
            raise ModelArtifactError(f"{where}: a challenger for a model it does not serve: {', '.join(unknown)}")
        training_range = None
        if "training_range" in document:
            training_range = fields.nested("training_range").training_range()
            if len(training_range.minimum) != feature_count:
                raise ModelArtifactError(f"{where}: the training range must name {feature_count} features")
        return cls(
            format=MANIFEST_FORMAT,
            labels=tuple(fields.get("labels", list)),
            labels_file=fields.file_ref("labels_file"),
            feature_count=feature_count,
            models={name: fields.nested("models", name).model_entry() for name in models},
            built_with=fields.get("built_with", dict),
            training_range=training_range,
            challengers={name: fields.nested("challengers", name).model_entry() for name in challengers},
        )


class _Fields:
    """Typed reads from one JSON object of the manifest; what is missing or mistyped is named with its path."""

    def __init__(self, document: Any, path: str) -> None:
        if not isinstance(document, dict):
            raise ModelArtifactError(f"{path} must be a JSON object")
        self.document = document
        self.path = path

    def get(self, key: str, kind: type | tuple[type, ...], kind_name: str = "") -> Any:
        if key not in self.document:
            raise ModelArtifactError(f"{self.path} has no {key!r}")
        value = self.document[key]
        if not isinstance(value, kind) or isinstance(value, bool):
            expected = kind_name or getattr(kind, "__name__", "")
            raise ModelArtifactError(f"{self.path}: {key!r} must be a {expected}")
        return value

    def nested(self, *keys: str) -> _Fields:
        fields = self
        for key in keys:
            fields = _Fields(fields.get(key, dict), f"{fields.path} > {key}")
        return fields

    def number(self, key: str) -> float:
        return float(self.get(key, (int, float), "number"))

    def numbers(self, key: str) -> tuple[float, ...]:
        values = self.get(key, list)
        if not values or not all(_finite_number(value) for value in values):
            raise ModelArtifactError(f"{self.path}: {key!r} must be a non-empty list of numbers")
        return tuple(float(value) for value in values)

    def serving_cost(self) -> ServingCost:
        limits = self.get("limits", dict)
        if not all(_finite_number(value) for value in limits.values()):
            raise ModelArtifactError(f"{self.path}: 'limits' must map each limit to a number")
        return ServingCost(onnx_bytes=self.get("onnx_bytes", int), gate=self.get("gate", str), limits=limits)

    def training_range(self) -> TrainingRange:
        return TrainingRange.from_document(self.document, self.path, source=self.get("source", str))

    def file_ref(self, key: str) -> FileRef:
        fields = self.nested(key)
        return FileRef(file=fields.get("file", str), sha256=fields.get("sha256", str))

    def model_entry(self) -> ModelEntry:
        parity, evaluation = self.nested("parity"), self.nested("evaluation")
        return ModelEntry(
            file=self.get("file", str),
            sha256=self.get("sha256", str),
            input_name=self.get("input_name", str),
            input_dtype=self.get("input_dtype", str),
            probabilities_output=self.get("probabilities_output", str),
            source=self.file_ref("source"),
            parity=Parity(
                rows=parity.get("rows", int),
                max_abs_diff=parity.number("max_abs_diff"),
                tolerance=parity.number("tolerance"),
                max_abs_input=parity.number("max_abs_input"),
            ),
            evaluation=Evaluation(
                rows=evaluation.get("rows", int),
                data_sha256=evaluation.get("data_sha256", str),
                accuracy=evaluation.number("accuracy"),
                lowest_recall=evaluation.number("lowest_recall"),
                log_loss=evaluation.number("log_loss"),
            ),
            card=self.file_ref("card"),
            serving_cost=self.nested("serving_cost").serving_cost() if "serving_cost" in self.document else None,
        )


def _finite_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_manifest(models_dir: Path) -> Manifest:
    path = models_dir / MANIFEST_FILE
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ModelArtifactError(f"cannot read {path}: {exc.strerror}") from None
    return Manifest.from_json(raw, path)


def sha256_of(path: Path) -> str:
    with path.open("rb") as artifact:
        return hashlib.file_digest(artifact, "sha256").hexdigest()


def verified_file(models_dir: Path, ref: FileRef) -> Path:
    """The file ref names in models_dir, once its SHA-256 is the one the manifest records."""
    path = models_dir / ref.file
    if not path.is_file():
        raise ModelArtifactError(f"{path} is missing")
    actual = sha256_of(path)
    if actual != ref.sha256:
        raise ModelArtifactError(f"{path} has sha256 {actual}, the manifest says {ref.sha256}")
    return path


def session_options() -> ort.SessionOptions:
    """How the service runs every model; the build checks parity under the same options."""
    options = ort.SessionOptions()
    # One request at a time per execution environment: extra threads only add spin-up cost.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options
