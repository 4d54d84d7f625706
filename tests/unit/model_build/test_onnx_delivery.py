"""A model delivered as ONNX (models.toml: format = "onnx"), served as delivered: a forest the ML team converted
with skl2onnx, and a network's logits graph with its own input and output names, each built, checked, evaluated
and served by its function in-process as the model it came from scores; its card says no native model was compared.
A graph of another width, a fixed batch, an opset ONNX Runtime does not load, or logits delivered as probabilities
are refused, naming what is wrong."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import joblib
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from model_build.contract import ModelContractError
from model_build.layer import build
from model_build.onnx_delivery import NEWEST_OPSET, OLDEST_OPSET
from model_build.parity import ParityError
from model_build.training import split_iris
from scripts.harness.events import json_event
from tests.support.service import DEFAULT_ARTIFACTS, DEFAULT_LABELS, configure_service
from tests.support.sklearn_families import trained


def delivery(folder: Path, name: str, graph: onnx.ModelProto, output: str = "probabilities") -> Path:
    """The default artifacts with this ONNX graph delivered for model name."""
    source = folder / "artifacts"
    shutil.copytree(DEFAULT_ARTIFACTS, source)
    onnx.save(graph, str(source / "delivered.onnx"))
    (source / "models.toml").write_text(f'[{name}]\nfile = "delivered.onnx"\nformat = "onnx"\noutput = "{output}"\n')
    return source


def logits_graph(
    weights: np.ndarray, bias: np.ndarray, batch: int | str = "n", opset: int = 17, softmax: bool = False
) -> onnx.ModelProto:
    """x [batch, features] -> x @ weights + bias, named as another team would name them, softmaxed on request."""
    features, width = weights.shape
    nodes = [helper.make_node("Gemm", ["x", "w", "b"], ["z"])]
    if softmax:
        nodes.append(helper.make_node("Softmax", ["z"], ["p"], axis=1))
    graph = helper.make_graph(
        nodes,
        "delivered",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, features])],
        [helper.make_tensor_value_info("p" if softmax else "z", TensorProto.FLOAT, [batch, width])],
        [
            numpy_helper.from_array(weights.astype(np.float32), "w"),
            numpy_helper.from_array(bias.astype(np.float32), "b"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def regression_weights() -> tuple[np.ndarray, np.ndarray, LogisticRegression]:
    """The default scikit-learn model's coefficients: its softmax over them is its predict_proba."""
    model = joblib.load(DEFAULT_ARTIFACTS / "sklearn.model")
    return model.coef_.T, model.intercept_, model


def served_scores(monkeypatch, handler_module, lambda_context, models: Path, route: str) -> np.ndarray:
    configure_service(monkeypatch, KYBER_MODELS_DIR=str(models))
    rows = split_iris().held_out_features
    response = handler_module(route).lambda_handler(json_event(route, {"crystalData": rows.tolist()}), lambda_context)
    assert response["statusCode"] == 200
    scores = json.loads(response["body"])["scores"]
    return np.array([[row[label] for label in DEFAULT_LABELS] for row in scores])


def test_a_forest_delivered_as_onnx_is_served_as_the_forest_scores(
    tmp_path, monkeypatch, handler_module, lambda_context
):
    # Given a random forest the ML team converted to ONNX themselves, with a label output beside its probabilities
    forest = trained(RandomForestClassifier(n_estimators=60, random_state=0))
    graph = convert_sklearn(
        forest,
        initial_types=[("features", FloatTensorType([None, 4]))],
        options={id(forest): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    # When it is built as the scikit-learn model and served by /sklearn
    built = build(delivery(tmp_path, "sklearn", graph), tmp_path / "models", probe_rows=2_000)
    served = served_scores(monkeypatch, handler_module, lambda_context, tmp_path / "models", "sklearn")
    # Then it answers the forest's probabilities, and says that nothing was compared with a native model
    native = forest.predict_proba(split_iris().held_out_features.astype(np.float32))
    assert np.abs(served - native).max() <= 1e-6
    entry = built.manifest.models["sklearn"]
    assert (entry.source.file, entry.input_name, entry.input_dtype) == ("delivered.onnx", "features", "float32")
    assert entry.parity.rows == 0
    card = json.loads((tmp_path / "models" / entry.card.file).read_text())
    assert card["model_parameters"]["model_architecture"] == (
        "ONNX delivered directly (opset 17), served as delivered: no native model was compared with it"
    )
    compared = [m for m in card["quantitative_analysis"]["performance_metrics"] if m["type"].startswith("ONNX vs")]
    assert compared == [{"type": "ONNX vs native max |dp|", "value": "not compared: delivered as ONNX"}]
    assert entry.evaluation.accuracy >= 0.9


def test_logits_delivered_as_onnx_get_a_softmax(tmp_path, monkeypatch, handler_module, lambda_context):
    # Given a graph giving the default regression's logits, its input named x and its output z
    weights, bias, regression = regression_weights()
    source = delivery(tmp_path, "pytorch", logits_graph(weights, bias), output="logits")
    # When it is built as the PyTorch model and served by /pytorch
    built = build(source, tmp_path / "models", probe_rows=2_000)
    served = served_scores(monkeypatch, handler_module, lambda_context, tmp_path / "models", "pytorch")
    # Then the softmax the build appended makes them the regression's probabilities
    native = regression.predict_proba(split_iris().held_out_features)
    assert np.abs(served - native).max() <= 1e-5
    entry = built.manifest.models["pytorch"]
    assert (entry.input_name, entry.probabilities_output) == ("x", "probabilities")
    graph = onnx.load(str(tmp_path / "models" / entry.file))
    assert [node.op_type for node in graph.graph.node] == ["Gemm", "Softmax"]


def test_logits_delivered_as_probabilities_are_refused(tmp_path):
    weights, bias, _ = regression_weights()
    with pytest.raises(ParityError) as refused:
        build(delivery(tmp_path, "pytorch", logits_graph(weights, bias)), tmp_path / "models", probe_rows=100)
    assert str(refused.value).startswith("pytorch: the delivered ONNX gives scores that are not probabilities on ")
    assert str(refused.value).endswith('(logits? say output = "logits" in models.toml)')
    assert not (tmp_path / "models").exists()


@pytest.mark.parametrize(
    ("weights", "batch", "opset", "refusal"),
    [
        (np.ones((5, 3)), "n", 17, "pytorch model takes 5 features, not 4"),
        (
            np.ones((4, 4)),
            "n",
            17,
            "pytorch model gives 4 outputs but the labels file names 3: ['blue', 'green', 'yellow']",
        ),
        (
            np.ones((4, 3)),
            2,
            17,
            "onnx model (delivered.onnx)'s input has a fixed batch of 2: export it with a dynamic batch",
        ),
        (
            np.ones((4, 3)),
            "n",
            OLDEST_OPSET - 1,
            f"onnx model (delivered.onnx): opset 6 is outside ONNX Runtime's {OLDEST_OPSET} to {NEWEST_OPSET}",
        ),
        (
            np.ones((4, 3)),
            "n",
            NEWEST_OPSET + 1,
            f"onnx model (delivered.onnx): opset {NEWEST_OPSET + 1} is outside ONNX Runtime's {OLDEST_OPSET} to"
            f" {NEWEST_OPSET}",
        ),
    ],
)
def test_a_graph_off_the_contract_is_refused_naming_what_is_wrong(weights, batch, opset, refusal, tmp_path):
    graph = logits_graph(weights, np.zeros(weights.shape[1]), batch=batch, opset=opset, softmax=True)
    with pytest.raises(ModelContractError) as refused:
        build(delivery(tmp_path, "pytorch", graph), tmp_path / "models", probe_rows=10)
    assert str(refused.value) == refusal
    assert not (tmp_path / "models").exists()


def test_a_file_that_is_not_onnx_is_refused(tmp_path):
    source = delivery(tmp_path, "sklearn", logits_graph(np.ones((4, 3)), np.zeros(3), softmax=True))
    (source / "delivered.onnx").write_bytes(b"not a protobuf at all \xff\xfe")
    with pytest.raises(ModelContractError) as refused:
        build(source, tmp_path / "models", probe_rows=10)
    assert str(refused.value).startswith("onnx model (delivered.onnx) is not an ONNX file: ")
