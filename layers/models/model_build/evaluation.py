"""How good a model is: the held-out evaluation data (evaluation.csv) read and checked, and the metrics a
model's scores earn on it, as the models layer build, the model cards and the report use them."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn import metrics

EVALUATION_FILE = "evaluation.csv"
LABEL_COLUMN = "label"
CALIBRATION_BINS = 10


class EvaluationDataError(Exception):
    """evaluation.csv is missing or is not one row of features and a known label name per line."""


@dataclass(frozen=True)
class EvaluationData:
    """The evaluation rows as float64 features, and each row's label as an index into the labels."""

    path: Path
    columns: tuple[str, ...]
    features: np.ndarray
    target: np.ndarray


def _parse_row(line: int, row: list[str], width: int, labels: tuple[str, ...]) -> tuple[list[float], int]:
    if len(row) != width:
        raise EvaluationDataError(f"line {line}: {len(row)} columns, the header has {width}")
    *values, label = row
    if label not in labels:
        raise EvaluationDataError(f"line {line}: unknown label {label!r}, the labels file names {list(labels)}")
    features = []
    for column, text in enumerate(values, start=1):
        try:
            value = float(text)
        except ValueError:
            raise EvaluationDataError(f"line {line}, column {column}: {text!r} is not a number") from None
        if not math.isfinite(value):
            raise EvaluationDataError(f"line {line}, column {column}: {text!r} is not a finite number")
        features.append(value)
    return features, labels.index(label)


def _parse_rows(
    lines: list[str], labels: tuple[str, ...], feature_count: int
) -> tuple[list[str], list[list[float]], list[int]]:
    reader = csv.reader(lines, strict=True)
    rows, target = [], []
    try:
        header = next(reader, None)
        if header is None or len(header) != feature_count + 1 or header[-1] != LABEL_COLUMN:
            raise EvaluationDataError(
                f"line 1: the header must be {feature_count} feature names then {LABEL_COLUMN!r}, not {header}"
            )
        for row in reader:
            features, label = _parse_row(reader.line_num, row, len(header), labels)
            rows.append(features)
            target.append(label)
    except csv.Error as exc:
        raise EvaluationDataError(f"line {reader.line_num}: {exc}") from None
    return header, rows, target


def read_evaluation_data(path: Path, labels: tuple[str, ...], feature_count: int) -> EvaluationData:
    """evaluation.csv: a header of feature_count feature names then `label`, and one row per sample
    holding feature_count numbers and a label name; an EvaluationDataError naming the line otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise EvaluationDataError(f"{path} is missing: the models are measured on it") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise EvaluationDataError(f"cannot read {path}: {exc}") from None
    try:
        header, rows, target = _parse_rows(text.splitlines(), labels, feature_count)
    except EvaluationDataError as exc:
        raise EvaluationDataError(f"{path} {exc}") from None
    if not rows:
        raise EvaluationDataError(f"{path} has a header and no rows")
    unmeasured = [label for index, label in enumerate(labels) if index not in target]
    if unmeasured:
        raise EvaluationDataError(f"{path} has no rows labelled {', '.join(unmeasured)}: every label must be measured")
    return EvaluationData(
        path=path,
        columns=tuple(header),
        features=np.asarray(rows, dtype=np.float64).reshape(len(rows), feature_count),
        target=np.asarray(target, dtype=np.int64),
    )


@dataclass(frozen=True)
class LabelMetrics:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class CalibrationBin:
    """The rows whose top score falls in [lower, upper): their mean top score and how often it was right."""

    lower: float
    upper: float
    rows: int
    mean_confidence: float
    accuracy: float


@dataclass(frozen=True)
class Metrics:
    """What a model's scores earn on the evaluation rows; confusion[i][j] counts label i predicted as j."""

    rows: int
    accuracy: float
    balanced_accuracy: float
    log_loss: float
    per_label: tuple[LabelMetrics, ...]
    macro: LabelMetrics
    weighted: LabelMetrics
    confusion: tuple[tuple[int, ...], ...]
    calibration: tuple[CalibrationBin, ...]
    expected_calibration_error: float

    @property
    def lowest_recall(self) -> LabelMetrics:
        return min(self.per_label, key=lambda label: label.recall)


def _averaged(name: str, target: np.ndarray, predicted: np.ndarray, classes: list[int]) -> LabelMetrics:
    precision, recall, f1, _ = metrics.precision_recall_fscore_support(
        target, predicted, labels=classes, average=name, zero_division=0
    )
    return LabelMetrics(name, float(precision), float(recall), float(f1), len(target))


def calibration_bins(confidence: np.ndarray, correct: np.ndarray) -> tuple[CalibrationBin, ...]:
    """Top-label calibration: the rows binned by their highest score into equal-width bins; empty bins left out."""
    edges = np.linspace(0.0, 1.0, CALIBRATION_BINS + 1)
    # A top score of exactly 1.0 belongs in the last bin.
    index = np.minimum(np.searchsorted(edges, confidence, side="right") - 1, CALIBRATION_BINS - 1)
    bins = []
    for number in range(CALIBRATION_BINS):
        chosen = index == number
        if chosen.any():
            bins.append(
                CalibrationBin(
                    lower=float(edges[number]),
                    upper=float(edges[number + 1]),
                    rows=int(chosen.sum()),
                    mean_confidence=float(confidence[chosen].mean()),
                    accuracy=float(correct[chosen].mean()),
                )
            )
    return tuple(bins)


def measure(probabilities: np.ndarray, target: np.ndarray, labels: tuple[str, ...]) -> Metrics:
    """The metrics of one model's scores (rows x labels) against the true label indices."""
    scores = np.asarray(probabilities, dtype=np.float64)
    classes = list(range(len(labels)))
    predicted = np.argmax(scores, axis=1)
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        target, predicted, labels=classes, zero_division=0
    )
    confidence, correct = scores.max(axis=1), predicted == target
    # From the true label's score alone: single-precision scores sum to one only within float32 rounding,
    # which scikit-learn's log_loss warns about, and a score of zero would be an infinite loss.
    true_scores = np.clip(scores[np.arange(len(target)), target], np.finfo(np.float64).eps, 1.0)
    calibration = calibration_bins(confidence, correct)
    gap = sum(abs(bin_.accuracy - bin_.mean_confidence) * bin_.rows for bin_ in calibration)
    return Metrics(
        rows=len(target),
        accuracy=float(metrics.accuracy_score(target, predicted)),
        balanced_accuracy=float(metrics.balanced_accuracy_score(target, predicted)),
        log_loss=float(-np.mean(np.log(true_scores))),
        per_label=tuple(
            LabelMetrics(label, float(p), float(r), float(f), int(s))
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        ),
        macro=_averaged("macro", target, predicted, classes),
        weighted=_averaged("weighted", target, predicted, classes),
        confusion=tuple(
            tuple(int(count) for count in row) for row in metrics.confusion_matrix(target, predicted, labels=classes)
        ),
        calibration=calibration,
        expected_calibration_error=float(gap / len(target)),
    )
