"""The serving-cost stage: each model's ONNX file loaded and run in ONNX Runtime as the service runs it, its size,
session load time, memory added and one-row and 10,000-row times measured, and held to the limits of
serving_cost.toml. Times are the best of several runs, so that a busy machine refuses no model by chance.

The manifest and the card record the size and the limits each figure was held to, which the same delivery always
builds the same; every figure as measured goes into the build's cost record (`--cost-record`), outside the layer."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kyber.manifest import ServingCost
from model_build.contract import FEATURE_COUNT, ModelsLayerError
from model_build.export import onnx_session
from model_build.gate import read_thresholds

SERVING_COST_FILE = Path(__file__).resolve().parent.parent / "serving_cost.toml"
BATCH_ROWS = 10_000


@dataclass(frozen=True)
class Limit:
    """A limit of the gate file: the figure it bounds, as messages and cards name it, the figure's unit, and how
    the figure is read from what the build measured."""

    figure: str
    unit: str
    # How a refusal writes the figure and the limit.
    spec: str
    measured: Callable[[MeasuredCost], float]

    def format(self, value: float) -> str:
        return f"{value:{self.spec}} {self.unit}"


LIMITS = {
    "max_onnx_bytes": Limit("ONNX file", "bytes", ",.0f", lambda cost: cost.onnx_bytes),
    "max_load_ms": Limit("session load", "ms", ".1f", lambda cost: cost.load_ms),
    "max_memory_added_mb": Limit("memory added", "MB", ".1f", lambda cost: cost.memory_added_bytes / 2**20),
    "max_one_row_ms": Limit("one row", "ms", ".3f", lambda cost: cost.one_row_ms),
    "max_rows_10000_ms": Limit(f"{BATCH_ROWS:,} rows", "ms", ".1f", lambda cost: cost.rows_10000_ms),
}


@dataclass(frozen=True)
class MeasuredCost:
    """What serving the model costs, as the build measured it in ONNX Runtime: its file's size, the time to create
    its session, the resident memory that and a 10,000-row run added, and the time of one row and of 10,000 rows.
    Printed by the build, held to the gate and written to the cost record, but only its size goes into the manifest:
    timings differ from run to run, and the same models must build the same manifest, whose hash names a release
    and whose change publishes versions."""

    onnx_bytes: int
    load_ms: float
    memory_added_bytes: int
    one_row_ms: float
    rows_10000_ms: float

    def summary(self) -> str:
        return (
            f"serving cost: {self.onnx_bytes:,} B, session load {self.load_ms:.1f} ms, memory added "
            f"{self.memory_added_bytes / 2**20:.1f} MB, one row {self.one_row_ms:.3f} ms, "
            f"{BATCH_ROWS:,} rows {self.rows_10000_ms:.1f} ms"
        )


class ServingCostError(ModelsLayerError):
    """A model costs more to serve than a limit of the serving-cost gate, or the gate's file is not usable."""


def _resident_bytes() -> int:
    """This process's resident memory (Linux's /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def _best_ms(run: object, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
    return min(times)


def measure(path: Path, input_name: str, input_dtype: str) -> MeasuredCost:
    """What serving the ONNX file costs, on seeded rows like the droids' (in [0, 8])."""
    before = _resident_bytes()
    load_ms = _best_ms(lambda: onnx_session(path), 3)
    session = onnx_session(path)
    rows = np.random.default_rng(0).uniform(0.0, 8.0, size=(BATCH_ROWS, FEATURE_COUNT)).astype(input_dtype)
    one_row_ms = _best_ms(lambda: session.run(None, {input_name: rows[:1]}), 50)
    rows_10000_ms = _best_ms(lambda: session.run(None, {input_name: rows}), 5)
    return MeasuredCost(
        onnx_bytes=path.stat().st_size,
        load_ms=round(load_ms, 3),
        memory_added_bytes=max(0, _resident_bytes() - before),
        one_row_ms=round(one_row_ms, 4),
        rows_10000_ms=round(rows_10000_ms, 3),
    )


@dataclass(frozen=True)
class ServingCostGate:
    max_onnx_bytes: int
    max_load_ms: float
    max_memory_added_mb: float
    max_one_row_ms: float
    max_rows_10000_ms: float
    source: Path

    @classmethod
    def read(cls, path: Path = SERVING_COST_FILE) -> ServingCostGate:
        limits = read_thresholds(
            path, LIMITS, "serving-cost gate", lambda value: value > 0, "a positive number", ServingCostError
        )
        return cls(**limits, source=path)

    def record(self, cost: MeasuredCost) -> ServingCost:
        """What the manifest and the card say of the cost: the ONNX file's size, and the limits it was held to."""
        limits = {name: getattr(self, name) for name in LIMITS}
        return ServingCost(onnx_bytes=cost.onnx_bytes, gate=self.source.name, limits=limits)

    def check(self, model: str, cost: MeasuredCost) -> None:
        """A ServingCostError naming the model, the figure, its value and the limit, for the first one above."""
        for key, limit in LIMITS.items():
            value, most = limit.measured(cost), getattr(self, key)
            if not value <= most:
                raise ServingCostError(
                    f"serving cost gate: model {model}'s {limit.figure} is {limit.format(value)}, above the limit "
                    f"{limit.format(most)} set in {self.source.name}"
                )
