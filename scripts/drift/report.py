"""Evidently's data drift report of captured rows against the training data, and its verdict in a few lines.

Runs in .venv-drift (requirements/drift.txt), whose pins are Evidently's, not the development venv's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from evidently import Report
from evidently.presets import DataDriftPreset
from sklearn.datasets import load_iris

FEATURES = ("feature_1", "feature_2", "feature_3", "feature_4")
REPORT_FILE = "index.html"


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    method: str
    score: float
    threshold: float

    @property
    def drifted(self) -> bool:
        # Evidently's rule: a test's p-value below the threshold, or a distance at or above it.
        if "p_value" in self.method:
            return self.score < self.threshold
        return self.score >= self.threshold

    def line(self) -> str:
        verdict = "drifted" if self.drifted else "not drifted"
        return f"  {self.name}: {verdict} ({self.method} {self.score:.3g}, threshold {self.threshold:g})"


@dataclass(frozen=True)
class DriftVerdict:
    dataset_drift: bool
    features: tuple[FeatureDrift, ...]
    current_rows: int
    reference_rows: int

    def lines(self) -> list[str]:
        drifted = sum(feature.drifted for feature in self.features)
        answer = "yes" if self.dataset_drift else "no"
        return [
            f"dataset drift: {answer} ({drifted} of {len(self.features)} features drifted)",
            *(feature.line() for feature in self.features),
        ]


def training_rows(reference: Path | None) -> pd.DataFrame:
    """The rows the models were trained on: a CSV of four numeric columns (header first), or Iris."""
    if reference is None:
        rows = pd.DataFrame(load_iris().data)
    else:
        rows = pd.read_csv(reference)
        if rows.shape[1] != len(FEATURES) or not all(pd.api.types.is_numeric_dtype(kind) for kind in rows.dtypes):
            raise ValueError(f"{reference} must hold {len(FEATURES)} numeric columns")
    rows.columns = list(FEATURES)
    return rows


def verdict_of(result: dict[str, Any], current_rows: int, reference_rows: int) -> DriftVerdict:
    """The dataset's and each feature's drift, read from the report's metrics."""
    dataset_drift, features = None, []
    for metric in result["metrics"]:
        config = metric["config"]
        if config["type"].endswith(":DriftedColumnsCount"):
            dataset_drift = metric["value"]["share"] >= config["drift_share"]
        elif config["type"].endswith(":ValueDrift"):
            features.append(FeatureDrift(config["column"], config["method"], metric["value"], config["threshold"]))
    if dataset_drift is None or [feature.name for feature in features] != list(FEATURES):
        raise ValueError("the report lacks the dataset's or a feature's drift")
    return DriftVerdict(dataset_drift, tuple(features), current_rows, reference_rows)


def drift_report(current: list[list[float]], reference: pd.DataFrame, out: Path) -> DriftVerdict:
    """Compare the captured rows with the reference, write the HTML report in out, and return the verdict."""
    captured = pd.DataFrame(current, columns=list(FEATURES))
    snapshot = Report([DataDriftPreset()]).run(current_data=captured, reference_data=reference)
    out.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(out / REPORT_FILE))
    return verdict_of(snapshot.dict(), len(captured), len(reference))
