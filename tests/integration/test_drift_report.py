"""`make drift` end to end: Evidently, in the venv the Makefile makes for it, judges captures drawn like the
training data as no drift, and captures whose measurements moved as drift."""

from __future__ import annotations

import gzip
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_iris

from kyber.monitoring import capture_record
from scripts.harness.events import json_event
from scripts.project import REPO

pytestmark = pytest.mark.integration

REQUESTS = 60
ROWS_PER_REQUEST = 4


@pytest.fixture(scope="session")
def drift_venv() -> None:
    """The drift venv, made as `make drift` makes it (at once when it is already there)."""
    subprocess.run(["make", ".venv-drift/.installed"], cwd=REPO, check=True, capture_output=True)


def write_capture(folder: Path, rows: np.ndarray) -> Path:
    """rows as the stack delivers them: the service's records of requests of a few rows each, gzipped."""
    lines = []
    for start in range(0, len(rows), ROWS_PER_REQUEST):
        event = json_event("sklearn", {"crystalData": rows[start : start + ROWS_PER_REQUEST].round(2).tolist()})
        lines.append(capture_record(event, '{"prediction": []}', datetime.now(UTC)))
    folder.mkdir(parents=True)
    (folder / "capture.gz").write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    return folder


def like_training(shift: float) -> Callable[[int], np.ndarray]:
    """Rows drawn from the training data (Iris) with a little noise, every value moved by shift."""

    def draw(seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        iris = load_iris().data
        picked = iris[rng.integers(0, len(iris), REQUESTS * ROWS_PER_REQUEST)]
        return np.asarray(picked + rng.normal(0.0, 0.05, picked.shape) + shift)

    return draw


def make_drift(capture: Path, out: Path) -> list[str]:
    result = subprocess.run(
        ["make", "--no-print-directory", "drift", f"CAPTURE={capture}", f"DRIFT_OUT={out}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in result.stdout.splitlines() if not line.startswith("env ")]


def test_captures_drawn_like_the_training_data_show_no_drift(drift_venv, tmp_path):
    capture = write_capture(tmp_path / "capture", like_training(0.0)(11))
    lines = make_drift(capture, tmp_path / "report")
    assert lines[0] == "dataset drift: no (0 of 4 features drifted)"
    assert [line.split(":")[0].strip() for line in lines[1:5]] == ["feature_1", "feature_2", "feature_3", "feature_4"]
    assert all(": not drifted (" in line for line in lines[1:5])
    report = tmp_path / "report" / "index.html"
    assert lines[5] == f"{REQUESTS * ROWS_PER_REQUEST} captured rows against 150 training rows: {report}"
    page = report.read_text()
    assert "Drifted Columns" in page
    assert all(f"{feature} (mean +/- std)" in page for feature in ("feature_1", "feature_2", "feature_3", "feature_4"))


def test_captures_whose_measurements_moved_show_drift_on_every_feature(drift_venv, tmp_path):
    capture = write_capture(tmp_path / "capture", like_training(1.5)(12))
    lines = make_drift(capture, tmp_path / "report")
    assert lines[0] == "dataset drift: yes (4 of 4 features drifted)"
    assert all(": drifted (" in line for line in lines[1:5])


def test_a_capture_location_without_records_fails_with_the_reason(drift_venv, tmp_path):
    (tmp_path / "empty").mkdir()
    result = subprocess.run(
        ["make", "--no-print-directory", "drift", f"CAPTURE={tmp_path / 'empty'}", f"DRIFT_OUT={tmp_path / 'report'}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert f"drift: no captured rows in {tmp_path / 'empty'}" in result.stderr
