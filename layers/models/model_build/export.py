"""The export stage: a native model written as ONNX with one [batch, 4] input and a [batch, labels]
"probabilities" output, and the ONNX Runtime session that serves it, described as the manifest records it.
torch is imported only to export a network."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import onnxruntime
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
from sklearn.base import ClassifierMixin
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.pipeline import Pipeline
from sklearn.tree import BaseDecisionTree

from kyber.manifest import session_options
from model_build.contract import FEATURE_COUNT, ModelContractError

if TYPE_CHECKING:
    from model_build.crystal_mlp import CrystalMLP, DeliveredNetwork

ONNX_OPSET = 17


INPUT_NAME = "crystal_data"


PROBABILITIES_OUTPUT = "probabilities"


ONNX_DTYPES = {"tensor(double)": "float64", "tensor(float)": "float32"}


# Trees compare features in single precision, in scikit-learn and in ONNX's tree operator alike: fed doubles, the
# export's float32 thresholds and scikit-learn's disagree at the edges (docs/models.md, measured). Every other
# family is exported in double precision, exact for linear models and neighbours.
SINGLE_PRECISION_FAMILIES = (
    BaseDecisionTree,
    RandomForestClassifier,
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
)


def final_estimator(model: ClassifierMixin) -> ClassifierMixin:
    """The estimator that gives the scores: a pipeline's last step, or the model itself."""
    return model[-1] if isinstance(model, Pipeline) else model


def summed_trees(model: ClassifierMixin) -> int:
    """How many trees a model's export adds up per score: an ensemble's, one for a single tree, none otherwise."""
    estimator = final_estimator(model)
    if isinstance(estimator, BaseDecisionTree):
        return 1
    return len(getattr(estimator, "estimators_", ())) if isinstance(estimator, SINGLE_PRECISION_FAMILIES) else 0


def export_precision(model: ClassifierMixin) -> str:
    """The precision a scikit-learn model is exported and served in: float32 for trees, else float64."""
    return "float32" if isinstance(final_estimator(model), SINGLE_PRECISION_FAMILIES) else "float64"


def export_sklearn(model: ClassifierMixin, path: Path) -> None:
    """Any scikit-learn classifier or pipeline skl2onnx converts, its probabilities as a plain tensor (no ZipMap);
    one it cannot convert is refused naming the estimator and why."""
    tensor_type = FloatTensorType if export_precision(model) == "float32" else DoubleTensorType
    estimator = final_estimator(model)
    try:
        onnx_model = convert_sklearn(
            model,
            name="kyber_sklearn",
            initial_types=[(INPUT_NAME, tensor_type([None, model.n_features_in_]))],
            options={id(estimator): {"zipmap": False}},
            target_opset={"": ONNX_OPSET, "ai.onnx.ml": 3},
        )
    except Exception as exc:  # skl2onnx raises anything from RuntimeError to NotImplementedError
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelContractError(
            f"sklearn model: skl2onnx cannot convert {type(estimator).__name__}: {reason[:200]}"
        ) from exc
    # skl2onnx lists the opsets it used in a set's order, which changes with each process's hash seed: sorted,
    # the same model is the same bytes, hence the same version, in every build.
    imports = sorted(onnx_model.opset_import, key=lambda opset: opset.domain)
    del onnx_model.opset_import[:]
    onnx_model.opset_import.extend(imports)
    # skl2onnx names the probability output "probabilities" when zipmap is off; the label output stays.
    path.write_bytes(onnx_model.SerializeToString())


def export_pytorch(model: CrystalMLP | DeliveredNetwork, path: Path) -> None:
    import torch

    from model_build.crystal_mlp import DeliveredNetwork

    # A delivered TorchScript network is exported scripted, with its softmax: the TorchScript exporter cannot trace
    # a Python module through a scripted one. Any other network (a torch.export program's module) is traced.
    scripted = isinstance(model, DeliveredNetwork) and isinstance(model.network, torch.jit.ScriptModule)
    exported = torch.jit.script(model) if scripted else model
    with warnings.catch_warnings():
        # torch.export's exporter (dynamo=True) needs onnxscript, which is not installed; the TorchScript
        # exporter handles this static MLP exactly and writes the same bytes every time.
        warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export")
        warnings.filterwarnings(
            "ignore", category=DeprecationWarning, module=r"torch\.onnx\._internal\.torchscript_exporter\."
        )
        # A torch.export program checks its input's shape in Python; traced at one row, the checks pass and drop out.
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        torch.onnx.export(
            exported,
            (torch.zeros(1, model.feature_count),),
            str(path),
            dynamo=False,
            input_names=[INPUT_NAME],
            output_names=[PROBABILITIES_OUTPUT],
            dynamic_axes={INPUT_NAME: {0: "batch"}, PROBABILITIES_OUTPUT: {0: "batch"}},
            opset_version=ONNX_OPSET,
            do_constant_folding=True,
        )


def onnx_session(path: Path) -> onnxruntime.InferenceSession:
    return onnxruntime.InferenceSession(str(path), session_options(), providers=["CPUExecutionProvider"])


def describe_session(name: str, session: onnxruntime.InferenceSession, labels: tuple[str, ...]) -> dict[str, str]:
    inputs = session.get_inputs()
    if len(inputs) != 1 or list(inputs[0].shape)[1:] != [FEATURE_COUNT]:
        shapes = [(node.name, node.shape) for node in inputs]
        raise ModelContractError(f"{name}.onnx must take one [batch, {FEATURE_COUNT}] input, not {shapes}")
    dtype = ONNX_DTYPES.get(inputs[0].type)
    if dtype is None:
        raise ModelContractError(f"{name}.onnx takes {inputs[0].type}, not float64 or float32")
    outputs = {node.name: node for node in session.get_outputs()}
    probabilities = outputs.get(PROBABILITIES_OUTPUT)
    if probabilities is None or list(probabilities.shape)[1:] != [len(labels)]:
        raise ModelContractError(f"{name}.onnx has no [batch, {len(labels)}] {PROBABILITIES_OUTPUT!r} output")
    return {"input_name": inputs[0].name, "input_dtype": dtype, "probabilities_output": PROBABILITIES_OUTPUT}
