"""The quality gate: the thresholds of quality_gate.toml, and the check that refuses a model below them."""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_build.evaluation import Metrics

QUALITY_GATE_FILE = Path(__file__).resolve().parent.parent / "quality_gate.toml"


class QualityGateError(Exception):
    """A model scores below a threshold of the quality gate, or the gate's file is not usable."""


def read_thresholds(
    path: Path,
    keys: Iterable[str],
    gate: str,
    valid: Callable[[float], bool],
    valid_text: str,
    error: type[Exception],
    table: str | None = None,
) -> dict[str, Any]:
    """A gate's file (or its [table], for a file that holds several gates' tables): exactly these keys, each a
    number valid() accepts; otherwise error, naming what is wrong."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise error(f"cannot read the {gate} {path}: {exc}") from None
    where = str(path)
    if table is not None:
        where = f"{path} [{table}]"
        if not isinstance(document.get(table), dict):
            raise error(f"{path} has no [{table}] table")
        document = document[table]
    if set(document) != set(keys):
        raise error(f"{where} must set exactly {sorted(keys)}, not {sorted(document)}")
    for key, value in document.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not valid(value):
            raise error(f"{where}: {key} must be {valid_text}, not {value!r}")
    return document


@dataclass(frozen=True)
class QualityGate:
    min_accuracy: float
    min_lowest_recall: float
    source: Path

    @classmethod
    def read(cls, path: Path = QUALITY_GATE_FILE) -> QualityGate:
        document = read_thresholds(
            path,
            ("min_accuracy", "min_lowest_recall"),
            "quality gate",
            lambda value: 0 <= value <= 1,
            "a number from 0 to 1",
            QualityGateError,
        )
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
