"""The training script: the project's default models, deterministic, in the ML team's formats, fitted on part
of Iris with the held-out part written as the evaluation data."""

from __future__ import annotations

import csv
from pathlib import Path

import joblib
import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from kyber.labels import read_labels
from kyber.manifest import TrainingRange, sha256_of
from model_build.crystal_mlp import STATE_DICT_KEYS, CrystalMLP
from model_build.training import TrainingReport, split_iris

ARTIFACT_NAMES = ["evaluation.csv", "output_labels.txt", "pytorch.model", "sklearn.model", "training_range.json"]


@pytest.fixture(scope="module")
def trained(two_trainings: tuple[TrainingReport, TrainingReport]) -> Path:
    return two_trainings[0].files[0].parent


def test_two_trainings_write_byte_identical_files(
    two_trainings: tuple[TrainingReport, TrainingReport],
) -> None:
    first, second = (report.files[0].parent for report in two_trainings)

    assert sorted(path.name for path in first.iterdir()) == ARTIFACT_NAMES
    assert sorted(path.name for path in second.iterdir()) == ARTIFACT_NAMES
    for name in ARTIFACT_NAMES:
        assert sha256_of(first / name) == sha256_of(second / name), name


def test_training_fits_both_models_to_iris_well(
    two_trainings: tuple[TrainingReport, TrainingReport],
) -> None:
    report = two_trainings[0]

    assert report.sklearn_accuracy > 0.9
    assert report.pytorch_accuracy > 0.9


def test_iris_is_split_seeded_and_stratified_into_training_and_held_out_rows() -> None:
    features, target = load_iris(return_X_y=True)

    split, again = split_iris(), split_iris()

    assert np.array_equal(split.held_out_features, again.held_out_features)
    assert np.bincount(split.held_out_target).tolist() == [15, 15, 15]
    assert np.bincount(split.training_target).tolist() == [35, 35, 35]
    both = np.vstack([split.training_features, split.held_out_features])
    both_target = np.concatenate([split.training_target, split.held_out_target])
    order, iris_order = np.lexsort([*both.T, both_target]), np.lexsort([*features.T, target])
    assert np.array_equal(both[order], features[iris_order])
    assert np.array_equal(both_target[order], target[iris_order])


def test_the_evaluation_csv_holds_the_held_out_rows_with_their_label_names(
    trained: Path, two_trainings: tuple[TrainingReport, TrainingReport]
) -> None:
    split = split_iris()

    with (trained / "evaluation.csv").open(encoding="utf-8", newline="") as stream:
        header, *rows = list(csv.reader(stream))

    assert header == ["sepal_length", "sepal_width", "petal_length", "petal_width", "label"]
    assert [[float(value) for value in row[:4]] for row in rows] == split.held_out_features.tolist()
    assert [row[4] for row in rows] == [("blue", "green", "yellow")[label] for label in split.held_out_target]
    assert (two_trainings[0].training_rows, two_trainings[0].held_out_rows) == (105, 45)


def test_trained_sklearn_model_is_the_ml_teams_logistic_regression(
    trained: Path,
) -> None:
    features, target = load_iris(return_X_y=True)

    model = joblib.load(trained / "sklearn.model")

    assert isinstance(model, LogisticRegression)
    assert model.solver == "lbfgs"
    assert model.n_features_in_ == 4
    assert model.classes_.tolist() == [0, 1, 2]
    assert model.coef_.shape == (3, 4)  # one row per class: the multinomial model
    assert model.score(features, target) > 0.9


def test_trained_pytorch_model_is_the_ml_teams_state_dict(
    trained: Path,
) -> None:
    features, target = load_iris(return_X_y=True)

    state = torch.load(trained / "pytorch.model", weights_only=True)
    model = CrystalMLP.from_state_dict(state)
    with torch.no_grad():
        predictions = model(torch.from_numpy(features.astype(np.float32))).argmax(dim=1).numpy()

    assert list(state) == list(STATE_DICT_KEYS)
    assert [tuple(state[key].shape) for key in STATE_DICT_KEYS] == [
        (50, 4),
        (50,),
        (50, 50),
        (50,),
        (3, 50),
        (3,),
    ]
    assert all(tensor.dtype == torch.float32 for tensor in state.values())
    assert np.mean(predictions == target) > 0.9


def test_trained_labels_file_names_the_three_colours_in_order(
    trained: Path,
) -> None:
    assert (trained / "output_labels.txt").read_text(encoding="utf-8") == "['blue', 'green', 'yellow']"
    assert read_labels(trained / "output_labels.txt") == ("blue", "green", "yellow")


def test_committed_default_artifacts_are_the_ml_team_files_and_the_evaluation_data(
    default_artifacts: Path,
) -> None:
    assert sorted(path.name for path in default_artifacts.iterdir()) == ARTIFACT_NAMES


def test_training_records_each_features_range_in_the_rows_it_fitted_not_the_held_out_ones(trained: Path) -> None:
    split = split_iris()
    features = split.training_features
    recorded = TrainingRange.read(trained / "training_range.json")
    assert recorded.minimum == tuple(features.min(axis=0).tolist())
    assert recorded.maximum == tuple(features.max(axis=0).tolist())
    # The held-out rows reach beyond it: the range is the fitted rows' own
    assert (split.held_out_features > np.array(recorded.maximum)).any()
