"""Session-wide builds of the models layer and trainings for the models tests (each costs seconds)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pytest

from model_build.layer import LayerBuild, build
from model_build.training import DEFAULT_OUT, TrainingReport, train_default_models

OnnxProbabilities = Callable[[Path, str, np.ndarray], np.ndarray]


def _read_manifest(out: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return manifest


@pytest.fixture(scope="session")
def onnx_probabilities() -> OnnxProbabilities:
    """Run a built layer's ONNX file in ONNX Runtime the way the service will: knowing only the manifest."""

    def run(out: Path, model: str, rows: np.ndarray) -> np.ndarray:
        entry = _read_manifest(out)["models"][model]
        session = onnxruntime.InferenceSession(str(out / entry["file"]), providers=["CPUExecutionProvider"])
        feed = {entry["input_name"]: np.asarray(rows, dtype=entry["input_dtype"])}
        (probabilities,) = session.run([entry["probabilities_output"]], feed)
        return np.asarray(probabilities)

    return run


@pytest.fixture(scope="session")
def default_artifacts() -> Path:
    return DEFAULT_OUT


@pytest.fixture(scope="session")
def default_manifest(built_models: Path) -> dict[str, Any]:
    return _read_manifest(built_models)


@pytest.fixture(scope="session")
def reference_models(pytestconfig: pytest.Config) -> Path:
    folder = pytestconfig.rootpath.parent / "shared" / "reference-models"
    if not (folder / "expected.json").is_file():
        pytest.skip(f"the ML team's reference models are not on this machine (looked in {folder})")
    return folder


@pytest.fixture(scope="session")
def reference_expected(reference_models: Path) -> dict[str, Any]:
    expected: dict[str, Any] = json.loads((reference_models / "expected.json").read_text(encoding="utf-8"))
    return expected


@pytest.fixture(scope="session")
def reference_build(reference_models: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LayerBuild]:
    """The ML team's models built as `sam build` builds them, measured on the project's evaluation data (the
    ML team's delivery has none of its own)."""
    out = tmp_path_factory.mktemp("reference-layer") / "models"
    return out, build(reference_models, out, evaluation=DEFAULT_OUT / "evaluation.csv")


@pytest.fixture(scope="session")
def reference_layer(reference_build: tuple[Path, LayerBuild]) -> Path:
    return reference_build[0]


@pytest.fixture(scope="session")
def reference_manifest(reference_layer: Path) -> dict[str, Any]:
    return _read_manifest(reference_layer)


@pytest.fixture(scope="session")
def two_trainings(tmp_path_factory: pytest.TempPathFactory) -> tuple[TrainingReport, TrainingReport]:
    first = train_default_models(tmp_path_factory.mktemp("training-1"))
    second = train_default_models(tmp_path_factory.mktemp("training-2"))
    return first, second
