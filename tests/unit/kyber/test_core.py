"""How a model scores a batch: rows beyond the range the build verified are a result (422), rows within it that
get no finite scores are the model failing (500); models load once, on ONNX Runtime's CPU provider, silently."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from kyber.errors import ModelFailureError
from kyber.registry import ModelRegistry
from tests.support.fakes import NonFiniteRows


@pytest.fixture
def sklearn_model(built_models: Path):
    return ModelRegistry(built_models).get("sklearn")


def test_unscorable_rows_beyond_the_verified_range_are_a_result_not_a_failure(sklearn_model):
    model = dataclasses.replace(sklearn_model, session=NonFiniteRows(1))
    beyond = sklearn_model.verified_magnitude * 2
    scores = model.score(np.array([[1.0, 1, 1, 1], [0, beyond, 0, 0], [2.0, 2, 2, 2]]))
    assert scores.unscorable_rows.tolist() == [1]
    assert np.isfinite(scores.probabilities[[0, 2]]).all()


def test_each_unscorable_row_is_judged_by_its_own_values(sklearn_model):
    # Given two rows without scores: one beyond the verified range, one well within it
    model = dataclasses.replace(sklearn_model, session=NonFiniteRows(0, 1))
    beyond = sklearn_model.verified_magnitude * 2
    # When they are scored together, then the one within the range makes it a model failure
    with pytest.raises(ModelFailureError, match="non-finite scores for values it was verified on"):
        model.score(np.array([[beyond, 0, 0, 0], [1.0, 1, 1, 1]]))


def test_a_row_at_exactly_the_verified_magnitude_was_verified(sklearn_model):
    model = dataclasses.replace(sklearn_model, session=NonFiniteRows(0))
    with pytest.raises(ModelFailureError):
        model.score(np.array([[sklearn_model.verified_magnitude, 0, 0, 0]]))


def test_scoring_values_beyond_float32_raises_no_warning(models_dir):
    import warnings

    model = ModelRegistry(models_dir).get("pytorch")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = model.score(np.array([[1e300, 1.0, 1.0, 1.0], [5.1, 3.5, 1.4, 0.2]]))
    assert scores.unscorable_rows.tolist() == [0]


def test_each_model_is_loaded_once_and_then_served_from_the_registry(models_dir, caplog):
    registry = ModelRegistry(models_dir)
    first, again, other = registry.get("pytorch"), registry.get("pytorch"), registry.get("sklearn")
    assert first is again
    assert (first.name, other.name) == ("pytorch", "sklearn")
    assert [record.model for record in caplog.records if record.getMessage() == "model loaded"] == [
        "pytorch",
        "sklearn",
    ]


def test_loading_the_models_names_onnx_runtimes_cpu_provider_so_it_warns_of_nothing(models_dir, capfd):
    import warnings

    # ONNX Runtime warns, and prints an "EP Error", when it must fall back to a provider itself.
    registry = ModelRegistry(models_dir)
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        models = [registry.get("sklearn"), registry.get("pytorch")]
    out, err = capfd.readouterr()
    assert [str(warning.message) for warning in caught] == []
    assert "EP Error" not in out + err
    assert [model.session.get_providers() for model in models] == [["CPUExecutionProvider"]] * 2
