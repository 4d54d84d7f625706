"""The load stage: the ML team's native artifacts read and checked against the contract, each as a NativeModel
that knows how to export itself and what it natively answers. torch is imported only to read a network."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import joblib
import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.exceptions import InconsistentVersionWarning
from sklearn.pipeline import Pipeline

from model_build.contract import FEATURE_COUNT, ModelContractError, check_contract
from model_build.delivery import Delivered, read_delivery
from model_build.export import export_precision, export_pytorch, export_sklearn, final_estimator, summed_trees
from model_build.parity import tolerance_for

if TYPE_CHECKING:
    from model_build.crystal_mlp import CrystalMLP, DeliveredNetwork

PRECISION_WORDS = {"float64": "double", "float32": "single"}
LOGITS_WORDS = {"logits": " giving logits (a softmax added)", "probabilities": ""}


@dataclass(frozen=True)
class NativeModel:
    """One of the ML team's models: its source file, what it is, how to export it and what it natively answers."""

    name: str
    source: Path
    architecture: str
    export: Callable[[Path], None]
    # None: delivered as ONNX, with no native model to compare the served one with.
    probabilities: Callable[[np.ndarray], np.ndarray] | None
    # The parity tolerance the export is held to; None: that of the precision it computes in.
    tolerance: float | None = None


def load_sklearn_model(path: Path) -> ClassifierMixin:
    """Any scikit-learn classifier or pipeline that scores each label (predict_proba)."""
    # The ML team pickled with scikit-learn 1.1.1; its LogisticRegression predicts the same in 1.9 (and parity
    # below proves the export against whatever was loaded), so only that warning is silenced.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=InconsistentVersionWarning)
        model = joblib.load(path)
    estimator = final_estimator(model)
    # hasattr: SVC(probability=False) has the method but raises AttributeError when it is looked up.
    if not hasattr(model, "predict_proba") or not hasattr(model, "classes_"):
        raise ModelContractError(
            f"sklearn model ({path.name}): {type(estimator).__name__} has no predict_proba, so it gives no score"
            " per label (an SVC needs probability=True)"
        )
    return model


def load_pytorch_model(path: Path) -> CrystalMLP:
    import torch

    from model_build.crystal_mlp import CrystalMLP

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises anything from KeyError to UnpicklingError on a bad file
        raise ModelContractError(f"{path.name} is not a torch.save file of tensors: {exc!r}") from exc
    try:
        return CrystalMLP.from_state_dict(state)
    except (ValueError, RuntimeError, AttributeError, TypeError) as exc:
        raise ModelContractError(f"{path.name} is not a CrystalMLP state dict: {exc}") from exc


def load_torchscript_network(path: Path, output: str, labels: tuple[str, ...]) -> DeliveredNetwork:
    """Any network saved with torch.jit.save that takes [batch, 4], in eval mode (dropout off, batch norm on its
    running statistics); logits get a softmax, which the export then carries. A network whose input or output
    width is not the contract's is refused naming both widths."""
    import torch

    from model_build.crystal_mlp import DeliveredNetwork

    try:
        network = torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # torch raises RuntimeError, ValueError, or zipfile errors for what is not TorchScript
        raise ModelContractError(
            f"pytorch model ({path.name}): not a TorchScript file: {str(exc).splitlines()[0]}"
        ) from exc
    network.eval()
    # Its first layer says how many features it takes, where it has one: checked before the network is run.
    declared = next((module.in_features for module in network.modules() if hasattr(module, "in_features")), None)
    if declared is not None:
        check_contract("pytorch", declared, len(labels), labels)
    try:
        with torch.no_grad():
            width = network(torch.zeros(2, FEATURE_COUNT)).shape
    except Exception as exc:  # a network that cannot take [batch, 4] fails in any of torch's errors
        raise ModelContractError(
            f"pytorch model ({path.name}) does not take [batch, {FEATURE_COUNT}]: {str(exc).splitlines()[0]}"
        ) from exc
    if len(width) != 2:
        raise ModelContractError(f"pytorch model ({path.name}) gives scores of shape {list(width)} for 2 rows")
    return DeliveredNetwork(network, FEATURE_COUNT, int(width[1]), logits=output == "logits")


def load_exported_program(path: Path, output: str, labels: tuple[str, ...]) -> DeliveredNetwork:
    """Any program saved with torch.export.save that takes [batch, 4] with the batch dynamic (torch.export.Dim): a
    program traced for one batch size cannot serve another. It runs as it was exported, so it must have been
    exported in eval mode; a program whose scores change between two runs of the same rows is refused."""
    import torch

    from model_build.crystal_mlp import DeliveredNetwork, ExportedProgramModule

    where = f"pytorch model ({path.name})"
    try:
        program = torch.export.load(str(path))
    except Exception as exc:  # torch raises RuntimeError, ValueError, or zipfile errors for what is not a program
        raise ModelContractError(f"{where}: not a torch.export program: {str(exc).splitlines()[0]}") from exc
    user_inputs = [spec.arg.name for spec in program.graph_signature.input_specs if spec.kind.name == "USER_INPUT"]
    shapes = [node.meta["val"].shape for node in program.graph.nodes if node.name in user_inputs]
    if len(shapes) != 1 or len(shapes[0]) != 2:
        found = [list(shape) for shape in shapes]
        raise ModelContractError(f"{where} takes inputs of shapes {found}, not one [batch, {FEATURE_COUNT}]")
    if isinstance(shapes[0][1], int):
        check_contract("pytorch", shapes[0][1], len(labels), labels)
    if not isinstance(shapes[0][0], torch.SymInt):
        raise ModelContractError(
            f"{where} was exported for a batch of {int(shapes[0][0])} rows only: export it with a dynamic batch"
            " (dynamic_shapes={0: torch.export.Dim(...)})"
        )
    module = ExportedProgramModule(program.module())
    rows = torch.from_numpy(np.random.default_rng(0).uniform(0.0, 8.0, size=(8, FEATURE_COUNT)).astype(np.float32))
    with torch.no_grad():
        first, second, alone = module(rows), module(rows), module(rows[:1])
    if first.dim() != 2:
        raise ModelContractError(f"{where} gives scores of shape {list(first.shape)} for 8 rows")
    # Dropout left on changes the scores from run to run; batch norm on batch statistics changes a row's scores
    # with the rows beside it.
    if not torch.equal(first, second) or not torch.allclose(first[:1], alone, atol=1e-6):
        raise ModelContractError(
            f"{where} scores the same rows differently from run to run or batch to batch: export it from a network"
            " in eval mode"
        )
    return DeliveredNetwork(module, FEATURE_COUNT, int(first.shape[1]), logits=output == "logits")


def _torch_probabilities(model: CrystalMLP | DeliveredNetwork) -> Callable[[np.ndarray], np.ndarray]:
    import torch

    def probabilities(rows: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return np.asarray(model(torch.from_numpy(rows)).numpy())

    return probabilities


def _sklearn(delivered: Delivered, path: Path, labels: tuple[str, ...]) -> NativeModel:
    model = load_sklearn_model(path)
    check_contract(delivered.name, int(model.n_features_in_), len(model.classes_), labels)
    # Output i must be label i: the classes are the label indices, or the labels themselves in the file's order.
    classes = np.asarray(model.classes_).tolist()
    if classes != list(range(len(labels))) and classes != list(labels):
        raise ModelContractError(
            f"sklearn model ({type(final_estimator(model)).__name__}) classes are {classes}, not"
            f" 0..{len(labels) - 1} or the labels file's {list(labels)} in its order"
        )
    precision = export_precision(model)
    steps = [type(step).__name__ for step in model] if isinstance(model, Pipeline) else []
    kind = f"Pipeline({', '.join(steps)})" if steps else type(model).__name__
    return NativeModel(
        delivered.name,
        path,
        f"scikit-learn {kind}, exported to ONNX by skl2onnx in {PRECISION_WORDS[precision]} precision",
        lambda out: export_sklearn(model, out),
        model.predict_proba,
        tolerance_for(precision, summed_trees(model)),
    )


def _network(delivered: Delivered, path: Path, labels: tuple[str, ...]) -> NativeModel:
    network: CrystalMLP | DeliveredNetwork
    if delivered.format == "torchscript":
        network = load_torchscript_network(path, delivered.output, labels)
        kind = f"PyTorch network delivered as TorchScript{LOGITS_WORDS[delivered.output]}"
    elif delivered.format == "torch-export":
        network = load_exported_program(path, delivered.output, labels)
        kind = f"PyTorch network delivered as a torch.export program{LOGITS_WORDS[delivered.output]}"
    else:
        network = load_pytorch_model(path)
        kind = network.architecture()
    check_contract(delivered.name, network.feature_count, network.class_count, labels)
    return NativeModel(
        delivered.name,
        path,
        f"{kind}; exported to ONNX by torch.onnx in single precision",
        lambda out: export_pytorch(network, out),
        _torch_probabilities(network),
    )


def _onnx(delivered: Delivered, path: Path, labels: tuple[str, ...]) -> NativeModel:
    import onnx

    from model_build.onnx_delivery import prepared

    model = prepared(delivered.name, path, delivered.output, labels)
    opset = next(entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx"))
    return NativeModel(
        delivered.name,
        path,
        f"ONNX delivered directly (opset {opset}){LOGITS_WORDS[delivered.output]}, served as delivered: "
        "no native model was compared with it",
        lambda out: onnx.save(model, str(out)),
        None,
    )


LOADERS: dict[str, Callable[[Delivered, Path, tuple[str, ...]], NativeModel]] = {
    "sklearn-pickle": _sklearn,
    "crystal-mlp-state-dict": _network,
    "torchscript": _network,
    "torch-export": _network,
    "onnx": _onnx,
}


def native_models(source: Path, labels: tuple[str, ...]) -> list[NativeModel]:
    """Source's two models, as its models.toml (or the defaults) says they are, loaded and checked against the
    service's contract."""
    return [
        LOADERS[delivered.format](delivered, source / delivered.file, labels)
        for delivered in read_delivery(source).values()
    ]
