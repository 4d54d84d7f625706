"""The ML team's delivered models, built into a layer, give the probabilities the ML team recorded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.support.service import NATIVE_TOLERANCE

OnnxProbabilities = Callable[[Path, str, np.ndarray], np.ndarray]


@pytest.mark.parametrize(("model", "tolerance"), sorted(NATIVE_TOLERANCE.items()))
def test_reference_models_built_give_the_recorded_scores_and_predictions(
    model: str,
    tolerance: float,
    reference_layer: Path,
    reference_manifest: dict[str, Any],
    reference_expected: dict[str, Any],
    onnx_probabilities: OnnxProbabilities,
) -> None:
    labels = reference_manifest["labels"]
    rows = np.asarray(reference_expected["input"], dtype=np.float64)
    recorded = np.asarray([[scores[label] for label in labels] for scores in reference_expected[model]])

    probabilities = onnx_probabilities(reference_layer, model, rows)

    assert np.max(np.abs(probabilities.astype(np.float64) - recorded)) <= tolerance
    assert [labels[index] for index in np.argmax(probabilities, axis=1)] == reference_expected[f"{model}_prediction"]


def test_reference_models_built_record_their_source_hashes(
    reference_manifest: dict[str, Any],
) -> None:
    sources = {name: model["source"]["sha256"] for name, model in reference_manifest["models"].items()}

    assert sources == {
        "sklearn": "ed9114685371304de4e3e063e9ce172519fb2c7ede531098633d769c0131afb2",
        "pytorch": "5e7fbde1645af5b8ee45363034d6182a21ce3f999bcd3912d1192532c2153a2f",
    }
    assert reference_manifest["labels"] == ["blue", "green", "yellow"]
    for model in reference_manifest["models"].values():
        assert model["parity"]["max_abs_diff"] <= {"float64": 1e-6, "float32": 2.0**-18}[model["input_dtype"]]
