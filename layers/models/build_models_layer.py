"""Compile the ML team's native artifacts into the models layer: ONNX files, the labels, a model card per
model and a manifest.

Each ONNX export is run in ONNX Runtime and must match its native model on a probe set and on the evaluation
rows (max |dp| <= 1e-6, same argmax), and score at least the quality gate's thresholds on the evaluation rows
(evaluation.csv), or the build fails and writes nothing. The manifest also records each feature's range in the
models' training data: training_range.json when the delivery has one, else scikit-learn's Iris data, on which
the defaults and the ML team's models were trained.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import joblib
import numpy as np
import onnx
import onnxruntime
import skl2onnx
import sklearn
import torch
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import DoubleTensorType
from sklearn.datasets import load_iris
from sklearn.exceptions import InconsistentVersionWarning
from sklearn.linear_model import LogisticRegression

from crystal_mlp import CrystalMLP
from evaluation_figures import calibration_png, confusion_matrix_png
from kyber.errors import ModelArtifactError
from kyber.labels import read_labels
from kyber.manifest import (
    LABELS_FILE,
    MANIFEST_FILE,
    MANIFEST_FORMAT,
    TRAINING_RANGE_FILE,
    Evaluation,
    FileRef,
    Manifest,
    ModelEntry,
    Parity,
    TrainingRange,
    session_options,
    sha256_of,
)
from model_card import CardInputs, card_json, model_card
from model_evaluation import (
    EVALUATION_FILE,
    EvaluationData,
    EvaluationDataError,
    Metrics,
    measure,
    read_evaluation_data,
)
from quality_gate import QualityGate, QualityGateError

FEATURE_COUNT = 4
# Largest |dp| allowed between an export and its native model, by the precision the export computes in.
# Two single-precision evaluations of one network differ by rounding alone: on rows far from the data,
# PyTorch (MKL) and ONNX Runtime (MLAS) gave 1.4e-6 to 1.7e-6 apart on AVX2 CPUs, each about 2e-6 from
# the network evaluated in double precision. 2**-18 is 32 float32 units in the last place of 1.0.
PARITY_TOLERANCE = {"float64": 1e-6, "float32": 2.0**-18}
DEFAULT_PROBE_ROWS = 10_000
PROBE_SEED = 4_242
ONNX_OPSET = 17
INPUT_NAME = "crystal_data"
PROBABILITIES_OUTPUT = "probabilities"
SOURCE_FILES = {"sklearn": "sklearn.model", "pytorch": "pytorch.model"}
ONNX_FILES = {"sklearn": "sklearn.onnx", "pytorch": "pytorch.onnx"}
CARD_FILES = {"sklearn": "sklearn.model-card.json", "pytorch": "pytorch.model-card.json"}
ONNX_DTYPES = {"tensor(double)": "float64", "tensor(float)": "float32"}
BUILT_WITH = {
    "python": platform.python_version(),
    "scikit-learn": sklearn.__version__,
    "torch": torch.__version__,
    "skl2onnx": skl2onnx.__version__,
    "onnx": onnx.__version__,
    "onnxruntime": onnxruntime.__version__,
}


class ModelsLayerError(Exception):
    """The models layer cannot be built from these artifacts."""


class ModelContractError(ModelsLayerError):
    """A model does not take FEATURE_COUNT features, or does not give one output per label."""


class ParityError(ModelsLayerError):
    """An ONNX export does not reproduce its native model on the probe set."""


def load_sklearn_model(path: Path) -> LogisticRegression:
    # The ML team pickled with scikit-learn 1.1.1; LogisticRegression predicts the same in 1.9 (and parity
    # below proves the export against whatever was loaded), so only that warning is silenced.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=InconsistentVersionWarning)
        model = joblib.load(path)
    if not isinstance(model, LogisticRegression):
        raise ModelContractError(f"{path.name} holds a {type(model).__name__}, not a LogisticRegression")
    return model


def load_pytorch_model(path: Path) -> CrystalMLP:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises anything from KeyError to UnpicklingError on a bad file
        raise ModelContractError(f"{path.name} is not a torch.save file of tensors: {exc!r}") from exc
    try:
        return CrystalMLP.from_state_dict(state)
    except (ValueError, RuntimeError, AttributeError, TypeError) as exc:
        raise ModelContractError(f"{path.name} is not a CrystalMLP state dict: {exc}") from exc


def check_contract(name: str, feature_count: int, output_count: int, labels: tuple[str, ...]) -> None:
    if feature_count != FEATURE_COUNT:
        raise ModelContractError(f"{name} model takes {feature_count} features, not {FEATURE_COUNT}")
    if output_count != len(labels):
        raise ModelContractError(
            f"{name} model gives {output_count} outputs but the labels file names {len(labels)}: {list(labels)}"
        )


def export_sklearn(model: LogisticRegression, path: Path) -> None:
    onnx_model = convert_sklearn(
        model,
        name="kyber_sklearn",
        initial_types=[(INPUT_NAME, DoubleTensorType([None, model.n_features_in_]))],
        options={id(model): {"zipmap": False}},
        target_opset={"": ONNX_OPSET, "ai.onnx.ml": 3},
    )
    # skl2onnx lists the opsets it used in a set's order, which changes with each process's hash seed: sorted,
    # the same model is the same bytes, hence the same version, in every build.
    imports = sorted(onnx_model.opset_import, key=lambda opset: opset.domain)
    del onnx_model.opset_import[:]
    onnx_model.opset_import.extend(imports)
    # skl2onnx names the probability output "probabilities" when zipmap is off; the label output stays.
    path.write_bytes(onnx_model.SerializeToString())


def export_pytorch(model: CrystalMLP, path: Path) -> None:
    with warnings.catch_warnings():
        # torch.export's exporter (dynamo=True) needs onnxscript, which is not installed; the TorchScript
        # exporter handles this static MLP exactly and writes the same bytes every time.
        warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export")
        warnings.filterwarnings(
            "ignore", category=DeprecationWarning, module=r"torch\.onnx\._internal\.torchscript_exporter\."
        )
        torch.onnx.export(
            model,
            (torch.zeros(1, model.feature_count),),
            str(path),
            dynamo=False,
            input_names=[INPUT_NAME],
            output_names=[PROBABILITIES_OUTPUT],
            dynamic_axes={INPUT_NAME: {0: "batch"}, PROBABILITIES_OUTPUT: {0: "batch"}},
            opset_version=ONNX_OPSET,
            do_constant_folding=True,
        )


def probe_features(probe_rows: int) -> np.ndarray:
    """Iris itself, then probe_rows seeded random rows: most uniform in [-1, 10], a tenth near zero like the
    droids' samples, a tenth far out in [-100, 100]."""
    rng = np.random.default_rng(PROBE_SEED)
    tenth = probe_rows // 10
    usual = rng.uniform(-1.0, 10.0, size=(probe_rows - 2 * tenth, FEATURE_COUNT))
    near_zero = rng.uniform(0.0, 1.0, size=(tenth, FEATURE_COUNT))
    far = rng.uniform(-100.0, 100.0, size=(tenth, FEATURE_COUNT))
    iris = np.asarray(load_iris().data, dtype=np.float64)
    return np.ascontiguousarray(np.vstack([iris, usual, near_zero, far]))


def training_range(source: Path) -> TrainingRange:
    """The delivery's training_range.json, or without one the range of scikit-learn's Iris data."""
    path = source / TRAINING_RANGE_FILE
    if path.exists():
        delivered = TrainingRange.read(path)
        if len(delivered.minimum) != FEATURE_COUNT:
            features = len(delivered.minimum)
            raise ModelContractError(f"{path.name} gives the range of {features} features, not {FEATURE_COUNT}")
        return delivered
    iris = np.asarray(load_iris().data, dtype=np.float64)
    return TrainingRange(
        minimum=tuple(iris.min(axis=0).tolist()),
        maximum=tuple(iris.max(axis=0).tolist()),
        source="sklearn.datasets.load_iris",
    )


def onnx_session(path: Path) -> onnxruntime.InferenceSession:
    return onnxruntime.InferenceSession(str(path), session_options(), providers=["CPUExecutionProvider"])


def describe_session(name: str, session: onnxruntime.InferenceSession, labels: tuple[str, ...]) -> dict[str, str]:
    inputs = session.get_inputs()
    if len(inputs) != 1 or list(inputs[0].shape)[1:] != [FEATURE_COUNT]:
        shapes = [(node.name, node.shape) for node in inputs]
        raise ModelContractError(f"{name}.onnx must take one [batch, {FEATURE_COUNT}] input, not {shapes}")
    dtype = ONNX_DTYPES.get(inputs[0].type)
    if dtype is None:
        raise ModelContractError(f"{name}.onnx takes {inputs[0].type}, not float64 or float32")
    outputs = {node.name: node for node in session.get_outputs()}
    probabilities = outputs.get(PROBABILITIES_OUTPUT)
    if probabilities is None or list(probabilities.shape)[1:] != [len(labels)]:
        raise ModelContractError(f"{name}.onnx has no [batch, {len(labels)}] {PROBABILITIES_OUTPUT!r} output")
    return {"input_name": inputs[0].name, "input_dtype": dtype, "probabilities_output": PROBABILITIES_OUTPUT}


def measure_parity(name: str, rows: np.ndarray, native: np.ndarray, exported: np.ndarray) -> Parity:
    tolerance = PARITY_TOLERANCE[rows.dtype.name]
    if native.shape != exported.shape:
        raise ParityError(f"{name}: ONNX gives shape {exported.shape}, the native model {native.shape}")
    difference = np.abs(native.astype(np.float64) - exported.astype(np.float64))
    max_abs_diff = float(np.max(difference)) if difference.size else 0.0
    mismatched = int(np.count_nonzero(np.argmax(native, axis=1) != np.argmax(exported, axis=1)))
    if not np.isfinite(max_abs_diff) or max_abs_diff > tolerance or mismatched:
        raise ParityError(
            f"{name}: ONNX export does not match the native model on {native.shape[0]} probe rows: "
            f"max |dp| = {max_abs_diff:.3g} (tolerance {tolerance:g}), "
            f"{mismatched} rows with a different argmax"
        )
    return Parity(
        rows=native.shape[0],
        max_abs_diff=max_abs_diff,
        tolerance=tolerance,
        max_abs_input=float(np.max(np.abs(rows))),
    )


@dataclass(frozen=True)
class Assessment:
    """What the build measured of one model on the evaluation rows, and per row how far its export is from it."""

    metrics: Metrics
    probe_differences: np.ndarray
    evaluation_differences: np.ndarray
    graphics: dict[str, bytes]


@dataclass(frozen=True)
class LayerBuild:
    """A finished build: its manifest, and each model's assessment (for the report)."""

    manifest: Manifest
    assessments: dict[str, Assessment]


@dataclass(frozen=True)
class EvaluationSetup:
    """What every model of a build is measured on and held to, and the date its card carries."""

    data: EvaluationData
    data_sha256: str
    gate: QualityGate
    built: date


def row_differences(native: np.ndarray, exported: np.ndarray) -> np.ndarray:
    """Per row, the largest |score difference| between the native model and its export."""
    return np.asarray(np.abs(native.astype(np.float64) - exported.astype(np.float64)).max(axis=1, initial=0.0))


@dataclass(frozen=True)
class NativeModel:
    """One of the ML team's models: its source file, how to export it and what it natively answers."""

    name: str
    source: Path
    export: Callable[[Path], None]
    probabilities: Callable[[np.ndarray], np.ndarray]

    def compile(
        self, staging: Path, probe: np.ndarray, labels: tuple[str, ...], setup: EvaluationSetup
    ) -> tuple[ModelEntry, Assessment]:
        """Export to ONNX in staging, prove the export on the probe and evaluation rows, measure it on the
        evaluation rows as served, hold it to the quality gate and write its card."""
        onnx_path = staging / ONNX_FILES[self.name]
        self.export(onnx_path)
        onnx.checker.check_model(str(onnx_path))
        session = onnx_session(onnx_path)
        description = describe_session(self.name, session, labels)

        def scores(name: str, features: np.ndarray) -> tuple[np.ndarray, Parity, np.ndarray]:
            rows = features.astype(description["input_dtype"])
            (served,) = session.run([PROBABILITIES_OUTPUT], {description["input_name"]: rows})
            native = self.probabilities(rows)
            parity = measure_parity(name, rows, native, np.asarray(served))
            return np.asarray(served), parity, row_differences(native, np.asarray(served))

        _, parity, probe_differences = scores(self.name, probe)
        served, evaluation_parity, evaluation_differences = scores(
            f"{self.name} on {EVALUATION_FILE}", setup.data.features
        )
        metrics = measure(served, setup.data.target, labels)
        setup.gate.check(self.name, metrics)
        served_file = FileRef(file=onnx_path.name, sha256=sha256_of(onnx_path))
        source_file = FileRef(file=self.source.name, sha256=sha256_of(self.source))
        assessment = Assessment(metrics, probe_differences, evaluation_differences, figures(self.name, labels, metrics))
        card = CardInputs(
            name=self.name,
            served=served_file,
            source=source_file,
            input_name=description["input_name"],
            input_dtype=description["input_dtype"],
            labels=labels,
            data=setup.data,
            data_sha256=setup.data_sha256,
            metrics=metrics,
            parity_max_abs_diff=evaluation_parity.max_abs_diff,
            graphics=assessment.graphics,
            built=setup.built,
        )
        entry = ModelEntry(
            file=served_file.file,
            sha256=served_file.sha256,
            **description,
            source=source_file,
            parity=parity,
            evaluation=evaluation_summary(metrics, setup.data_sha256),
            card=write_card(staging / CARD_FILES[self.name], card),
        )
        return entry, assessment


def evaluation_summary(metrics: Metrics, data_sha256: str) -> Evaluation:
    """The manifest's headline of the evaluation: what the service logs without reading the card."""
    return Evaluation(
        rows=metrics.rows,
        data_sha256=data_sha256,
        accuracy=metrics.accuracy,
        lowest_recall=metrics.lowest_recall.recall,
        log_loss=metrics.log_loss,
    )


def figures(name: str, labels: tuple[str, ...], metrics: Metrics) -> dict[str, bytes]:
    """The card's graphics by name."""
    return {
        "Confusion matrix": confusion_matrix_png(name, labels, metrics),
        "Calibration curve": calibration_png(name, metrics),
    }


def write_card(path: Path, inputs: CardInputs) -> FileRef:
    path.write_text(card_json(model_card(inputs)), encoding="utf-8")
    return FileRef(file=path.name, sha256=sha256_of(path))


def build_date() -> date:
    """SOURCE_DATE_EPOCH's day when it is set (a reproducible build), else today, in UTC."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return datetime.fromtimestamp(int(epoch), tz=UTC).date()
    return datetime.now(tz=UTC).date()


def _torch_probabilities(model: CrystalMLP) -> Callable[[np.ndarray], np.ndarray]:
    def probabilities(rows: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return np.asarray(model(torch.from_numpy(rows)).numpy())

    return probabilities


def _install(staging: Path, out: Path) -> None:
    """Put the finished staging folder at out in one rename, replacing a previous build if there is one."""
    if out.exists() and not out.is_dir():
        raise ModelsLayerError(f"{out} exists and is not a folder")
    previous = out.with_name(f".{out.name}.previous")
    if out.exists():
        shutil.rmtree(previous, ignore_errors=True)
        out.rename(previous)
    staging.rename(out)
    shutil.rmtree(previous, ignore_errors=True)


def native_models(source: Path, labels: tuple[str, ...]) -> list[NativeModel]:
    """Source's two models, loaded and checked against the service's contract."""
    sklearn_model = load_sklearn_model(source / SOURCE_FILES["sklearn"])
    check_contract("sklearn", int(sklearn_model.n_features_in_), len(sklearn_model.classes_), labels)
    if list(sklearn_model.classes_) != list(range(len(labels))):
        raise ModelContractError(f"sklearn model classes are {list(sklearn_model.classes_)}, not 0..{len(labels) - 1}")
    pytorch_model = load_pytorch_model(source / SOURCE_FILES["pytorch"])
    check_contract("pytorch", pytorch_model.feature_count, pytorch_model.class_count, labels)
    return [
        NativeModel(
            "sklearn",
            source / SOURCE_FILES["sklearn"],
            lambda path: export_sklearn(sklearn_model, path),
            sklearn_model.predict_proba,
        ),
        NativeModel(
            "pytorch",
            source / SOURCE_FILES["pytorch"],
            lambda path: export_pytorch(pytorch_model, path),
            _torch_probabilities(pytorch_model),
        ),
    ]


def evaluation_setup(path: Path, labels: tuple[str, ...], gate: QualityGate | None) -> EvaluationSetup:
    return EvaluationSetup(
        data=read_evaluation_data(path, labels, FEATURE_COUNT),
        data_sha256=sha256_of(path),
        gate=gate or QualityGate.read(),
        built=build_date(),
    )


def build_models_layer(
    source: Path,
    out: Path,
    probe_rows: int = DEFAULT_PROBE_ROWS,
    evaluation: Path | None = None,
    gate: QualityGate | None = None,
) -> Manifest:
    """Export source's native models to ONNX in out, with labels, cards and manifest; return the manifest.
    The models are measured on evaluation (source's evaluation.csv by default) and held to gate
    (quality_gate.toml by default)."""
    return build_layer(source, out, probe_rows, evaluation, gate).manifest


def build_layer(
    source: Path,
    out: Path,
    probe_rows: int = DEFAULT_PROBE_ROWS,
    evaluation: Path | None = None,
    gate: QualityGate | None = None,
) -> LayerBuild:
    """build_models_layer's work, returning with the manifest what it measured of each model."""
    if probe_rows < 0:
        raise ValueError("probe_rows must not be negative")
    labels = read_labels(source / LABELS_FILE)
    models = native_models(source, labels)
    setup = evaluation_setup(evaluation or source / EVALUATION_FILE, labels, gate)
    feature_range = training_range(source)
    probe = probe_features(probe_rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    # One thread makes the native PyTorch figures, hence the manifest, the same on any machine.
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        compiled = {model.name: model.compile(staging, probe, labels, setup) for model in models}
        entries = {name: entry for name, (entry, _) in compiled.items()}
        shutil.copyfile(source / LABELS_FILE, staging / LABELS_FILE)
        manifest = Manifest(
            format=MANIFEST_FORMAT,
            labels=labels,
            labels_file=FileRef(file=LABELS_FILE, sha256=sha256_of(staging / LABELS_FILE)),
            feature_count=FEATURE_COUNT,
            models=entries,
            built_with=BUILT_WITH,
            training_range=feature_range,
        )
        (staging / MANIFEST_FILE).write_text(manifest.to_json(), encoding="utf-8")
        staging.chmod(0o755)
        _install(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        torch.set_num_threads(previous_threads)
    return LayerBuild(manifest, {name: assessment for name, (_, assessment) in compiled.items()})


def summary(manifest: Manifest, out: Path, seconds: float) -> str:
    lines = [f"models layer in {out} ({seconds:.1f} s), labels {list(manifest.labels)}"]
    for name, model in manifest.models.items():
        parity, evaluation = model.parity, model.evaluation
        size = (out / model.file).stat().st_size
        lines.append(
            f"  {name:8} {model.file:13} {size:>7,} B  sha256 {model.sha256[:12]}  "
            f"parity on {parity.rows:,} rows: max |dp| {parity.max_abs_diff:.2e}, argmax identical\n"
            f"  {'':8} {EVALUATION_FILE} ({evaluation.rows} rows): accuracy {evaluation.accuracy:.4f}, "
            f"lowest recall {evaluation.lowest_recall:.4f}, log loss {evaluation.log_loss:.4f}; card {model.card.file}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True, help="folder with the native artifacts")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the layer's models into")
    parser.add_argument("--probe-rows", type=int, default=DEFAULT_PROBE_ROWS, help="random rows for the parity check")
    parser.add_argument("--evaluation", type=Path, help=f"evaluation data (default: SOURCE/{EVALUATION_FILE})")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        manifest = build_models_layer(args.source, args.out, args.probe_rows, args.evaluation)
    except (ModelsLayerError, ModelArtifactError, EvaluationDataError, QualityGateError, ValueError, OSError) as exc:
        print(f"build_models_layer: {exc}", file=sys.stderr)
        return 1
    print(summary(manifest, args.out, time.perf_counter() - started))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
