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

from model_build.contract import FEATURE_COUNT, ModelContractError, check_contract
from model_build.delivery import read_delivery
from model_build.export import export_precision, export_pytorch, export_sklearn, final_estimator, summed_trees
from model_build.parity import tolerance_for

if TYPE_CHECKING:
    from model_build.crystal_mlp import CrystalMLP, DeliveredNetwork


@dataclass(frozen=True)
class NativeModel:
    """One of the ML team's models: its source file, how to export it and what it natively answers."""

    name: str
    source: Path
    export: Callable[[Path], None]
    probabilities: Callable[[np.ndarray], np.ndarray]
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


def _torch_probabilities(model: CrystalMLP | DeliveredNetwork) -> Callable[[np.ndarray], np.ndarray]:
    import torch

    def probabilities(rows: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return np.asarray(model(torch.from_numpy(rows)).numpy())

    return probabilities


def native_models(source: Path, labels: tuple[str, ...]) -> list[NativeModel]:
    """Source's two models, as its models.toml (or the defaults) says they are, loaded and checked against the
    service's contract."""
    delivered = read_delivery(source)
    sklearn_source, pytorch_source = source / delivered["sklearn"].file, source / delivered["pytorch"].file
    sklearn_model = load_sklearn_model(sklearn_source)
    check_contract("sklearn", int(sklearn_model.n_features_in_), len(sklearn_model.classes_), labels)
    # Output i must be label i: the classes are the label indices, or the labels themselves in the file's order.
    classes = np.asarray(sklearn_model.classes_).tolist()
    if classes != list(range(len(labels))) and classes != list(labels):
        raise ModelContractError(
            f"sklearn model ({type(final_estimator(sklearn_model)).__name__}) classes are {classes}, not"
            f" 0..{len(labels) - 1} or the labels file's {list(labels)} in its order"
        )
    pytorch_model: CrystalMLP | DeliveredNetwork
    if delivered["pytorch"].format == "torchscript":
        pytorch_model = load_torchscript_network(pytorch_source, delivered["pytorch"].output, labels)
    else:
        pytorch_model = load_pytorch_model(pytorch_source)
    check_contract("pytorch", pytorch_model.feature_count, pytorch_model.class_count, labels)
    return [
        NativeModel(
            "sklearn",
            sklearn_source,
            lambda path: export_sklearn(sklearn_model, path),
            sklearn_model.predict_proba,
            tolerance_for(export_precision(sklearn_model), summed_trees(sklearn_model)),
        ),
        NativeModel(
            "pytorch",
            pytorch_source,
            lambda path: export_pytorch(pytorch_model, path),
            _torch_probabilities(pytorch_model),
        ),
    ]
