"""Fakes for the tests: an ONNX Runtime session that fails on given rows, a clock that moves by given steps, and a
bucket of built models on moto's S3."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


class NonFiniteRows:
    """An ONNX Runtime session stand-in that scores every row 1/3 each, except the given rows: NaN."""

    def __init__(self, *rows: int) -> None:
        self.rows = list(rows)

    def run(self, _: object, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        (batch,) = feeds.values()
        scores = np.full((len(batch), 3), 1 / 3)
        scores[self.rows] = np.nan
        return [scores]


class ExplodingSession:
    """An ONNX Runtime session stand-in that fails every run, with a message that must never reach a client."""

    def run(self, *_: object) -> list[np.ndarray]:
        raise RuntimeError("onnxruntime exploded at /opt/models/secret-path")


class SteppingClock:
    """time.perf_counter for a test: each call moves the clock on by the next step, in seconds."""

    def __init__(self, *steps: float) -> None:
        self.now = 100.0
        self.steps = iter(steps)

    def __call__(self) -> float:
        self.now += next(self.steps, 0.0)
        return self.now


BUCKET = "kyber-models"
PREFIX = "releases/2026-11-26/"


def upload(s3: Any, folder: Path, prefix: str = PREFIX) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            s3.upload_file(str(path), BUCKET, prefix + path.relative_to(folder).as_posix())
