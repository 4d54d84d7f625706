"""A model card per built model, in the Model Card Toolkit's JSON format (schema v0.0.2): what the model is,
which file serves it, what it was measured on and how it scored, what serving it costs, and what it is for and
not for."""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

from kyber.manifest import FileRef, ServingCost
from model_build.compare import Comparison, OfflineRule
from model_build.cost import LIMITS
from model_build.evaluation import EVALUATION_FILE, EvaluationData, LabelMetrics, Metrics

SCHEMA_VERSION = "0.0.2"
OWNERS = [{"name": "Kyber crystal ML team"}]


@dataclass(frozen=True)
class CardInputs:
    """Everything a model's card says, gathered by the models layer build."""

    name: str
    # What was delivered and how it was exported, in a sentence.
    architecture: str
    served: FileRef
    source: FileRef
    input_name: str
    input_dtype: str
    labels: tuple[str, ...]
    data: EvaluationData
    data_sha256: str
    metrics: Metrics
    # None: delivered as ONNX, with no native model to compare it with.
    parity_max_abs_diff: float | None
    graphics: dict[str, bytes]
    built: date
    serving_cost: ServingCost


def _metric(kind: str, value: float | int, slice_: str | None = None) -> dict[str, str]:
    entry = {"type": kind, "value": str(value) if isinstance(value, int) else f"{value:.4f}"}
    if slice_ is not None:
        entry["slice"] = slice_
    return entry


def _averages(kind: str, average: LabelMetrics) -> list[dict[str, str]]:
    return [
        _metric(f"{kind} precision", average.precision),
        _metric(f"{kind} recall", average.recall),
        _metric(f"{kind} F1", average.f1),
    ]


def performance_metrics(metrics: Metrics, parity_max_abs_diff: float | None) -> list[dict[str, str]]:
    """Overall figures with no slice, then each label's sliced by its name."""
    overall = [
        _metric("accuracy", metrics.accuracy),
        _metric("balanced accuracy", metrics.balanced_accuracy),
        _metric("log loss", metrics.log_loss),
        *_averages("macro", metrics.macro),
        *_averages("weighted", metrics.weighted),
        _metric("expected calibration error", metrics.expected_calibration_error),
        {
            "type": "ONNX vs native max |dp|",
            "value": "not compared: delivered as ONNX" if parity_max_abs_diff is None else f"{parity_max_abs_diff:.3g}",
        },
        _metric("evaluation rows", metrics.rows),
    ]
    per_label = [
        _metric(kind, value, label.label)
        for label in metrics.per_label
        for kind, value in (
            ("precision", label.precision),
            ("recall", label.recall),
            ("F1", label.f1),
            ("support", label.support),
        )
    ]
    return overall + per_label


def _ranges(data: EvaluationData) -> str:
    low, high = data.features.min(axis=0), data.features.max(axis=0)
    columns = data.columns[:-1]
    return ", ".join(f"{column} {lo:g} to {hi:g}" for column, lo, hi in zip(columns, low, high, strict=True))


def _parameters(inputs: CardInputs) -> dict[str, Any]:
    features = ", ".join(inputs.data.columns[:-1])
    shape = f"{inputs.input_dtype} [rows, {len(inputs.data.columns) - 1}]"
    return {
        "model_architecture": inputs.architecture,
        "data": [
            {
                "name": EVALUATION_FILE,
                "description": (
                    f"Evaluation data delivered with the model: {inputs.metrics.rows} rows held out from its "
                    f"training, sha256 {inputs.data_sha256}. Supports per label: "
                    + ", ".join(f"{label.label} {label.support}" for label in inputs.metrics.per_label)
                ),
            }
        ],
        "input_format": f"{shape}: {features}",
        "input_format_map": [{"key": inputs.input_name, "value": f"{shape}: {features}"}],
        "output_format": "float scores [rows, labels] summing to 1; the prediction is the label of the highest",
        "output_format_map": [{"key": str(index), "value": label} for index, label in enumerate(inputs.labels)],
    }


def _considerations(inputs: CardInputs) -> dict[str, Any]:
    rows = inputs.metrics.rows
    return {
        "users": [{"description": "The droid fleet: Gonk droids and astromech droids sampling Kyber crystal ore."}],
        "use_cases": [
            {"description": "Naming the most probable crystal colour of each ore sample from its four measurements."}
        ],
        "limitations": [
            {
                "description": f"Measured only on values in the ranges of its evaluation data: {_ranges(inputs.data)}. "
                "Scores for values outside them (a droid's sensors reading in other units, near zero or far out) "
                "are answered but unmeasured, and can be confidently wrong."
            },
            {
                "description": f"{rows} evaluation rows: accuracy moves in steps of 1/{rows}, "
                "so small differences between models are not significant."
            },
            {"description": "It knows only its labels file's labels: a crystal of another colour gets one of them."},
        ],
        "tradeoffs": [
            {"description": "The calibration curve shows whether a high score can be trusted as a probability."},
            {"description": _serving_cost(inputs.serving_cost)},
        ],
    }


def _serving_cost(cost: ServingCost) -> str:
    limits = ", ".join(
        f"{LIMITS[key].figure} at most {value:,} {LIMITS[key].unit}" for key, value in cost.limits.items()
    )
    return (
        f"Serving cost: the ONNX file is {cost.onnx_bytes:,} bytes. Measured in ONNX Runtime by the build, each "
        f"figure was within the limits of {cost.gate}: {limits}. The build prints the measured times and writes "
        "them to its cost record, not to this card, whose bytes the same delivery always builds the same."
    )


def model_card(inputs: CardInputs) -> dict[str, Any]:
    """The card as a JSON document of the Model Card Toolkit v0.0.2 schema."""
    version = inputs.served.sha256[:12]
    return {
        "schema_version": SCHEMA_VERSION,
        "model_details": {
            "name": inputs.name,
            "overview": f"The {inputs.name} Kyber crystal classifier served from {inputs.served.file}.",
            "documentation": (
                f"Served from {inputs.served.file} (sha256 {inputs.served.sha256}), "
                f"{'delivered as' if inputs.parity_max_abs_diff is None else 'the ONNX export of'} "
                f"{inputs.source.file} (sha256 {inputs.source.sha256}). The version is the first 12 hex digits "
                "of the served file's SHA-256, as in the X-Kyber-Model-Version header."
            ),
            "owners": OWNERS,
            "version": {
                "name": version,
                "date": inputs.built.isoformat(),
                "diff": f"exported from {inputs.source.file}, sha256 {inputs.source.sha256}",
            },
            "path": inputs.served.file,
        },
        "model_parameters": _parameters(inputs),
        "quantitative_analysis": {
            "performance_metrics": performance_metrics(inputs.metrics, inputs.parity_max_abs_diff),
            "serving_cost": asdict(inputs.serving_cost),
            "graphics": {
                "description": f"Measured through {inputs.served.file} in ONNX Runtime on {EVALUATION_FILE}.",
                "collection": [
                    {"name": name, "image": base64.b64encode(png).decode("ascii")}
                    for name, png in inputs.graphics.items()
                ],
            },
        },
        "considerations": _considerations(inputs),
    }


def card_json(card: dict[str, Any]) -> str:
    return json.dumps(card, indent=1) + "\n"


def with_comparison(
    card: dict[str, Any], comparison: Comparison, rule: OfflineRule, flip_table: bytes
) -> dict[str, Any]:
    """A challenger's card that says so, with how it compared with its champion on the same rows (the figures, the
    rule it passed, the flip table as a picture) under quantitative_analysis.comparison, and its accuracy
    difference, with the interval, among its performance metrics."""
    card = copy.deepcopy(card)
    details, analysis = card["model_details"], card["quantitative_analysis"]
    champion, interval = comparison.champion, comparison.interval
    details["overview"] = (
        f"A challenger to the {comparison.model} Kyber crystal classifier (champion version {champion.version}), "
        f"served from {details['path']} beside it."
    )
    analysis["performance_metrics"].append(
        {
            "type": "accuracy minus the champion's",
            "value": f"{comparison.accuracy_difference:+.4f}",
            "confidence_interval": {"lower_bound": f"{interval.lower:+.4f}", "upper_bound": f"{interval.upper:+.4f}"},
        }
    )
    analysis["comparison"] = {**asdict(comparison), "margin": rule.margin, "gate": rule.source.name}
    analysis["graphics"]["collection"].append(
        {"name": "Flip table", "image": base64.b64encode(flip_table).decode("ascii")}
    )
    return card


def with_promotion(card: dict[str, Any], note: dict[str, Any]) -> dict[str, Any]:
    """A champion's card with how it became the champion (make promote's note in the delivery)."""
    card = copy.deepcopy(card)
    card["model_details"]["promotion"] = note
    return card
