"""The quality gate: the default models and the ML team's pass it; a model below a threshold stops the build
with one message naming the model, the metric, its value and the threshold, and nothing is written."""

from __future__ import annotations

import shutil
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import model_build
import model_build.__main__ as build_command
from kyber.manifest import Manifest
from model_build.gate import QUALITY_GATE_FILE, QualityGate, QualityGateError
from model_build.layer import LayerBuild, build
from model_build.load import load_sklearn_model
from model_build.training import split_iris

# What the thresholds are measured against, re-read here from the reviewed file itself.
GATE = QualityGate.read()


def test_the_reviewed_thresholds_are_the_ones_in_the_gate_file() -> None:
    assert Path(model_build.__file__).parent.with_name("quality_gate.toml") == QUALITY_GATE_FILE
    assert (GATE.min_accuracy, GATE.min_lowest_recall) == (0.9, 0.8)


def test_the_default_models_pass_the_gate(default_build: tuple[Path, Manifest]) -> None:
    for model in default_build[1].models.values():
        assert model.evaluation.accuracy >= GATE.min_accuracy
        assert model.evaluation.lowest_recall >= GATE.min_lowest_recall


def test_the_ml_teams_models_pass_the_gate(reference_build: tuple[Path, LayerBuild]) -> None:
    for model in reference_build[1].manifest.models.values():
        assert model.evaluation.accuracy >= GATE.min_accuracy
        assert model.evaluation.lowest_recall >= GATE.min_lowest_recall


@pytest.fixture(scope="module")
def shuffled_label_source(default_artifacts: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default artifacts with sklearn.model replaced by a LogisticRegression fitted on shuffled labels."""
    source = tmp_path_factory.mktemp("shuffled") / "source"
    shutil.copytree(default_artifacts, source)
    split = split_iris()
    shuffled = np.random.default_rng(7).permutation(split.training_target)
    joblib.dump(LogisticRegression(max_iter=1_000).fit(split.training_features, shuffled), source / "sklearn.model")
    return source


def test_a_model_fitted_on_shuffled_labels_stops_the_build_with_one_message(
    shuffled_label_source: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "models"

    status = build_command.main(["--source", str(shuffled_label_source), "--out", str(out)])

    (message,) = capsys.readouterr().err.splitlines()
    assert status == 1
    assert message.startswith("model_build: quality gate: model sklearn has accuracy 0.")
    assert message.endswith(" on 45 evaluation rows, below the threshold 0.9000 set in quality_gate.toml")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_the_refusal_gives_the_value_the_model_scored(shuffled_label_source: Path, tmp_path: Path) -> None:
    # Given the threshold at exactly what the shuffled model scores, it passes; a hair above, it is refused
    with pytest.raises(QualityGateError) as refused:
        build(shuffled_label_source, tmp_path / "models", probe_rows=10)
    value = float(str(refused.value).split(" accuracy ")[1].split()[0])
    scored = load_sklearn_model(shuffled_label_source / "sklearn.model").score(
        split_iris().held_out_features, split_iris().held_out_target
    )
    assert value == pytest.approx(scored, abs=5e-5)
    lenient = QualityGate(min_accuracy=scored, min_lowest_recall=0.0, source=QUALITY_GATE_FILE)
    built = build(shuffled_label_source, tmp_path / "models", 10, gate=lenient).manifest
    assert built.models["sklearn"].evaluation.accuracy == pytest.approx(scored)


def test_a_model_that_misses_one_label_is_refused_on_its_lowest_recall(default_artifacts: Path, tmp_path: Path) -> None:
    # Given a LogisticRegression that never predicts yellow (its yellow intercept far below the others)
    source = tmp_path / "source"
    shutil.copytree(default_artifacts, source)
    model = load_sklearn_model(source / "sklearn.model")
    model.intercept_[2] -= 100.0
    joblib.dump(model, source / "sklearn.model")
    lenient_accuracy = QualityGate(min_accuracy=0.5, min_lowest_recall=0.8, source=QUALITY_GATE_FILE)
    # Then the build names the label it misses
    with pytest.raises(QualityGateError) as refused:
        build(source, tmp_path / "models", 10, gate=lenient_accuracy)
    assert str(refused.value) == (
        "quality gate: model sklearn has lowest per-label recall (yellow) 0.0000 on 45 evaluation rows, "
        "below the threshold 0.8000 set in quality_gate.toml"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("min_accuracy = 0.9\n", "must set exactly ['min_accuracy', 'min_lowest_recall']"),
        ("min_accuracy = 0.9\nmin_lowest_recall = 1.5\n", "min_lowest_recall must be a number from 0 to 1, not 1.5"),
        ("min_accuracy = true\nmin_lowest_recall = 0.8\n", "min_accuracy must be a number from 0 to 1, not True"),
        ("min_accuracy = \n", "cannot read the quality gate"),
    ],
)
def test_a_gate_file_that_is_not_two_thresholds_is_refused(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "quality_gate.toml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(QualityGateError, match=message.replace("[", r"\[").replace("]", r"\]")):
        QualityGate.read(path)
