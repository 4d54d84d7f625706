"""Whatever scikit-learn classifier the ML team delivers next: each family is trained on the project's training
split, built with every gate, and served by the /sklearn function in-process, its scores within the parity
tolerance of the native model's. Trees are exported and served in single precision, the rest in double. A model
that gives no score per label, one skl2onnx cannot convert, one whose classes are not the labels file's, and an
export with two classes swapped are refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from model_build import load as load_stage
from model_build.export import PROBABILITIES_OUTPUT, export_sklearn
from model_build.layer import ModelContractError, ParityError, build
from model_build.training import split_iris
from scripts.harness.events import json_event
from tests.support.service import configure_service
from tests.support.sklearn_families import FAMILIES, delivery, trained

PROBE_ROWS = 2_000


@pytest.mark.parametrize("family", FAMILIES)
def test_a_classifier_of_any_family_builds_and_is_served_as_it_scores_natively(
    family, tmp_path, monkeypatch, handler_module, lambda_context
):
    # Given a model of the family, trained on the project's training split, delivered and built with every gate
    make, precision = FAMILIES[family]
    model = trained(make())
    built = build(delivery(tmp_path, model), tmp_path / "models", probe_rows=PROBE_ROWS)
    entry = built.manifest.models["sklearn"]
    assert (entry.input_dtype, entry.parity.rows) == (precision, 150 + PROBE_ROWS)
    assert entry.parity.max_abs_diff <= entry.parity.tolerance
    # When the /sklearn function serves the held-out rows from that build
    configure_service(monkeypatch, KYBER_MODELS_DIR=str(tmp_path / "models"))
    handler = handler_module("sklearn")
    rows = split_iris().held_out_features
    response = handler.lambda_handler(json_event("sklearn", {"crystalData": rows.tolist()}), lambda_context)
    # Then its scores are the native model's within the tolerance the build held the export to
    body = json.loads(response["body"])
    served = np.array([[row[label] for label in ("blue", "green", "yellow")] for row in body["scores"]])
    native = model.predict_proba(rows.astype(precision))
    assert response["statusCode"] == 200
    assert np.abs(served - native).max() <= entry.parity.tolerance
    assert body["prediction"] == [("blue", "green", "yellow")[index] for index in native.argmax(axis=1)]
    # And its card names what was delivered, step by step for a pipeline
    card = json.loads((tmp_path / "models" / entry.card.file).read_text())
    kind = f"Pipeline({', '.join(type(step).__name__ for step in model)})" if hasattr(model, "steps") else None
    words = {"float32": "single", "float64": "double"}[precision]
    assert card["model_parameters"]["model_architecture"] == (
        f"scikit-learn {kind or type(model).__name__}, exported to ONNX by skl2onnx in {words} precision"
    )


def test_a_model_without_a_score_per_label_is_refused_naming_it(tmp_path):
    with pytest.raises(ModelContractError) as refused:
        build(delivery(tmp_path, trained(LinearSVC())), tmp_path / "models", probe_rows=10)
    assert str(refused.value) == (
        "sklearn model (sklearn.model): LinearSVC has no predict_proba, so it gives no score per label"
        " (an SVC needs probability=True)"
    )


def test_a_model_skl2onnx_cannot_convert_is_refused_naming_the_estimator(tmp_path):
    with pytest.raises(
        ModelContractError, match=r"^sklearn model: skl2onnx cannot convert HistGradientBoostingClassifier: "
    ):
        build(delivery(tmp_path, trained(HistGradientBoostingClassifier())), tmp_path / "models", probe_rows=10)
    assert not (tmp_path / "models").exists()


def test_a_model_whose_classes_are_not_the_labels_files_in_its_order_is_refused(tmp_path):
    # Given a model fitted on the label names, and a labels file naming them in another order
    names = np.array(["blue", "green", "yellow"])
    model = trained(LogisticRegression(max_iter=1000), lambda target: names[target])
    source = delivery(tmp_path, model, labels="['yellow', 'green', 'blue']")
    with pytest.raises(ModelContractError) as refused:
        build(source, tmp_path / "models", probe_rows=10)
    assert str(refused.value) == (
        "sklearn model (LogisticRegression) classes are ['blue', 'green', 'yellow'], not 0..2 or the labels"
        " file's ['yellow', 'green', 'blue'] in its order"
    )


def test_a_model_fitted_on_the_label_names_in_the_files_order_builds(tmp_path):
    names = np.array(["blue", "green", "yellow"])
    model = trained(LogisticRegression(max_iter=1000), lambda target: names[target])
    built = build(delivery(tmp_path, model), tmp_path / "models", probe_rows=10)
    assert built.manifest.models["sklearn"].evaluation.accuracy >= 0.9


def export_with_two_classes_swapped(model: Any, path: Path) -> None:
    """The export as a converter that silently reorders classes would write it: blue and green swapped."""
    export_sklearn(model, path)
    exported = onnx.load(str(path))
    graph = exported.graph
    for node in graph.node:
        node.output[:] = [f"{name}_as_converted" if name == PROBABILITIES_OUTPUT else name for name in node.output]
    graph.initializer.append(numpy_helper.from_array(np.array([1, 0, 2], dtype=np.int64), "swapped_classes"))
    graph.node.append(
        helper.make_node(
            "Gather", [f"{PROBABILITIES_OUTPUT}_as_converted", "swapped_classes"], [PROBABILITIES_OUTPUT], axis=1
        )
    )
    onnx.save(exported, str(path))


def test_an_export_with_two_classes_swapped_fails_the_parity_gate(tmp_path, monkeypatch):
    monkeypatch.setattr(load_stage, "export_sklearn", export_with_two_classes_swapped)
    with pytest.raises(ParityError, match=r"rows with a different argmax"):
        build(delivery(tmp_path, trained(RandomForestClassifier(n_estimators=20, random_state=0))), tmp_path / "m")
    assert not (tmp_path / "m").exists()
