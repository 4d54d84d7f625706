"""One model through the build's stages, each a function of its own: export it to ONNX, check the graph, prove
the export against the native model on the probe and evaluation rows (parity), measure it as served on the
evaluation rows (evaluate), hold it to the quality gate (gate), measure what serving it costs and hold it to the
serving-cost gate (cost), write its card (card), and describe it for the manifest."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import onnx
import onnxruntime

from kyber.manifest import Evaluation, FileRef, ModelEntry, Parity, sha256_of
from model_build.card import CardInputs, card_json, model_card
from model_build.contract import FEATURE_COUNT
from model_build.cost import MeasuredCost, ServingCostGate
from model_build.cost import measure as measure_cost
from model_build.evaluation import EVALUATION_FILE, EvaluationData, Metrics, measure, read_evaluation_data
from model_build.export import PROBABILITIES_OUTPUT, describe_session, onnx_session
from model_build.figures import calibration_png, confusion_matrix_png
from model_build.gate import QualityGate
from model_build.load import NativeModel
from model_build.onnx_delivery import check_probabilities
from model_build.parity import measure_parity, row_differences

ONNX_FILES = {"sklearn": "sklearn.onnx", "pytorch": "pytorch.onnx"}
CARD_FILES = {"sklearn": "sklearn.model-card.json", "pytorch": "pytorch.model-card.json"}


@dataclass(frozen=True)
class Assessment:
    """What the build measured of one model on the evaluation rows, per row how far its export is from it, and
    what serving it costs."""

    metrics: Metrics
    probe_differences: np.ndarray
    evaluation_differences: np.ndarray
    graphics: dict[str, bytes]
    cost: MeasuredCost


@dataclass(frozen=True)
class EvaluationSetup:
    """What every model of a build is measured on and held to, and the date its card carries."""

    data: EvaluationData
    data_sha256: str
    gate: QualityGate
    built: date
    cost_gate: ServingCostGate


@dataclass(frozen=True)
class Served:
    """An exported model as ONNX Runtime serves it: its file, its session and how the manifest describes it."""

    path: Path
    session: onnxruntime.InferenceSession
    description: dict[str, str]

    def scores(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rows as the served model takes them, and its scores for them."""
        rows = features.astype(self.description["input_dtype"])
        (served,) = self.session.run([PROBABILITIES_OUTPUT], {self.description["input_name"]: rows})
        return rows, np.asarray(served)


def export(model: NativeModel, staging: Path, labels: tuple[str, ...]) -> Served:
    """Export and check: the ONNX file in staging, valid, with the contract's input and output."""
    path = staging / ONNX_FILES[model.name]
    model.export(path)
    onnx.checker.check_model(str(path))
    session = onnx_session(path)
    return Served(path, session, describe_session(model.name, session, labels))


def parity(
    model: NativeModel, served: Served, name: str, features: np.ndarray
) -> tuple[np.ndarray, Parity, np.ndarray]:
    """The served scores of features, the export's parity with the native model on them, and per row how far apart."""
    rows, scores = served.scores(features)
    if model.probabilities is None:
        # Delivered as ONNX: nothing to compare with, so its scores are held to being probabilities instead.
        check_probabilities(name, rows, scores)
        unchecked = Parity(rows=0, max_abs_diff=0.0, tolerance=0.0, max_abs_input=float(np.max(np.abs(rows))))
        return scores, unchecked, np.zeros(0)
    native = model.probabilities(rows)
    return scores, measure_parity(name, rows, native, scores, model.tolerance), row_differences(native, scores)


def compile_model(
    model: NativeModel, staging: Path, probe: np.ndarray, labels: tuple[str, ...], setup: EvaluationSetup
) -> tuple[ModelEntry, Assessment]:
    """Every stage of one model; the first that fails raises, naming the model and the reason."""
    served = export(model, staging, labels)
    _, probe_parity, probe_differences = parity(model, served, model.name, probe)
    scores, evaluation_parity, evaluation_differences = parity(
        model, served, f"{model.name} on {EVALUATION_FILE}", setup.data.features
    )
    metrics = measure(scores, setup.data.target, labels)
    setup.gate.check(model.name, metrics)
    cost = measure_cost(served.path, served.description["input_name"], served.description["input_dtype"])
    setup.cost_gate.check(model.name, cost)
    served_file = FileRef(file=served.path.name, sha256=sha256_of(served.path))
    source_file = FileRef(file=model.source.name, sha256=sha256_of(model.source))
    assessment = Assessment(
        metrics, probe_differences, evaluation_differences, graphics(model.name, labels, metrics), cost
    )
    serving_cost = setup.cost_gate.record(cost)
    card = CardInputs(
        name=model.name,
        architecture=model.architecture,
        served=served_file,
        source=source_file,
        input_name=served.description["input_name"],
        input_dtype=served.description["input_dtype"],
        labels=labels,
        data=setup.data,
        data_sha256=setup.data_sha256,
        metrics=metrics,
        parity_max_abs_diff=None if model.probabilities is None else evaluation_parity.max_abs_diff,
        graphics=assessment.graphics,
        built=setup.built,
        serving_cost=serving_cost,
    )
    entry = ModelEntry(
        file=served_file.file,
        sha256=served_file.sha256,
        **served.description,
        source=source_file,
        parity=probe_parity,
        evaluation=evaluation_summary(metrics, setup.data_sha256),
        card=write_card(staging / CARD_FILES[model.name], card),
        serving_cost=serving_cost,
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


def graphics(name: str, labels: tuple[str, ...], metrics: Metrics) -> dict[str, bytes]:
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


def evaluation_setup(path: Path, labels: tuple[str, ...], gate: QualityGate | None) -> EvaluationSetup:
    return EvaluationSetup(
        data=read_evaluation_data(path, labels, FEATURE_COUNT),
        data_sha256=sha256_of(path),
        gate=gate or QualityGate.read(),
        built=build_date(),
        cost_gate=ServingCostGate.read(),
    )
