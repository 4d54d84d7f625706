"""The quality gate: the thresholds of quality_gate.toml, and the check that refuses a model below them."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from model_build.evaluation import Metrics

QUALITY_GATE_FILE = Path(__file__).resolve().parent.parent / "quality_gate.toml"


class QualityGateError(Exception):
    """A model scores below a threshold of the quality gate, or the gate's file is not usable."""


@dataclass(frozen=True)
class QualityGate:
    min_accuracy: float
    min_lowest_recall: float
    source: Path

    @classmethod
    def read(cls, path: Path = QUALITY_GATE_FILE) -> QualityGate:
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise QualityGateError(f"cannot read the quality gate {path}: {exc}") from None
        expected = {"min_accuracy", "min_lowest_recall"}
        if set(document) != expected:
            raise QualityGateError(f"{path} must set exactly {sorted(expected)}, not {sorted(document)}")
        for key, value in document.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
                raise QualityGateError(f"{path}: {key} must be a number from 0 to 1, not {value!r}")
        return cls(float(document["min_accuracy"]), float(document["min_lowest_recall"]), path)

    def check(self, model: str, metrics: Metrics) -> None:
        """A QualityGateError naming the model, the metric, its value and the threshold, for the first miss."""
        lowest = metrics.lowest_recall
        checks = [
            ("accuracy", metrics.accuracy, self.min_accuracy),
            (f"lowest per-label recall ({lowest.label})", lowest.recall, self.min_lowest_recall),
        ]
        for metric, value, threshold in checks:
            if not value >= threshold:  # a NaN fails too
                raise QualityGateError(
                    f"quality gate: model {model} has {metric} {value:.4f} on {metrics.rows} evaluation rows, "
                    f"below the threshold {threshold:.4f} set in {self.source.name}"
                )
