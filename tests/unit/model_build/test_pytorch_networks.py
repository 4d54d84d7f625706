"""Any PyTorch network delivered as TorchScript or as a torch.export program (models.toml names it): a deeper MLP
with dropout and batch norm whose output is logits, and a network with another activation whose output is
probabilities, each trained on the project's training split, built (in eval mode, a softmax added for logits), and
served by the /pytorch function in-process as the network scores natively. A network whose input or output width is
not the contract's is refused naming both widths; a program exported for one batch size or in training mode is
refused; a descriptor that names an unknown format is refused naming it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from model_build.contract import ModelContractError
from model_build.layer import build
from model_build.training import split_iris
from scripts.harness.events import json_event
from tests.support.service import DEFAULT_ARTIFACTS, configure_service

LABELS = ("blue", "green", "yellow")
BATCH = torch.export.Dim("batch", min=1)


def deep_mlp_with_dropout_and_batch_norm() -> nn.Module:
    return nn.Sequential(
        nn.Linear(4, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(32, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(32, 3),
    )  # fmt: skip


def tanh_network() -> nn.Module:
    return nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))


def trained(make: Callable[[], nn.Module]) -> nn.Module:
    """A network made and its logits fitted to the training split from a fixed seed, then in eval mode."""
    split = split_iris()
    features = torch.tensor(split.training_features, dtype=torch.float32)
    target = torch.tensor(split.training_target)
    torch.manual_seed(0)
    network = make()
    optimiser = torch.optim.Adam(network.parameters(), lr=0.01)
    network.train()
    for _ in range(400):
        optimiser.zero_grad()
        nn.functional.cross_entropy(network(features), target).backward()
        optimiser.step()
    return network.eval()


def exported_program(network: nn.Module, batch: torch.export.Dim | None = BATCH) -> torch.export.ExportedProgram:
    """The network as torch.export captures it, by default with a dynamic batch."""
    shapes = ({0: batch},) if batch is not None else None
    features = next(module.in_features for module in network.modules() if isinstance(module, nn.Linear))
    return torch.export.export(network, (torch.zeros(2, features),), dynamic_shapes=shapes)


def delivery(folder: Path, network: nn.Module, output: str, form: str = "torchscript") -> Path:
    """The default artifacts with this network, as TorchScript or a torch.export program, for the PyTorch model."""
    source = folder / "artifacts"
    shutil.copytree(DEFAULT_ARTIFACTS, source)
    if form == "torchscript":
        torch.jit.save(torch.jit.script(network), str(source / "network.pt"))
    else:
        torch.export.save(exported_program(network), str(source / "network.pt"))
    (source / "models.toml").write_text(f'[pytorch]\nfile = "network.pt"\nformat = "{form}"\noutput = "{output}"\n')
    return source


FORMS = ("torchscript", "torch-export")
NETWORKS = {
    "deep MLP with dropout and batch norm, logits": (deep_mlp_with_dropout_and_batch_norm, "logits"),
    "tanh network, probabilities": (tanh_network, "probabilities"),
}


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("network", NETWORKS)
def test_a_delivered_network_builds_and_is_served_as_it_scores_in_eval_mode(
    network, form, tmp_path, monkeypatch, handler_module, lambda_context
):
    # Given a network trained on the training split, delivered as TorchScript or as a torch.export program
    make, output = NETWORKS[network]
    model = trained(make)
    delivered = model if output == "logits" else nn.Sequential(model, nn.Softmax(dim=1)).eval()
    built = build(delivery(tmp_path, delivered, output, form), tmp_path / "models", probe_rows=2_000)
    entry = built.manifest.models["pytorch"]
    assert entry.source.file == "network.pt"
    assert entry.parity.max_abs_diff <= entry.parity.tolerance
    # When the /pytorch function serves the held-out rows from that build
    configure_service(monkeypatch, KYBER_MODELS_DIR=str(tmp_path / "models"))
    handler = handler_module("pytorch")
    rows = split_iris().held_out_features
    response = handler.lambda_handler(json_event("pytorch", {"crystalData": rows.tolist()}), lambda_context)
    # Then it answers the network's own probabilities, in eval mode, within the parity tolerance
    with torch.no_grad():
        native = torch.softmax(model(torch.tensor(rows, dtype=torch.float32)), dim=1).numpy()
    body = json.loads(response["body"])
    served = np.array([[row[label] for label in LABELS] for row in body["scores"]])
    assert response["statusCode"] == 200
    assert np.abs(served - native).max() <= entry.parity.tolerance
    assert body["prediction"] == [LABELS[index] for index in native.argmax(axis=1)]


@pytest.mark.parametrize(
    ("network", "refusal"),
    [
        (nn.Sequential(nn.Linear(5, 3)), "pytorch model takes 5 features, not 4"),
        (
            nn.Sequential(nn.Linear(4, 4)),
            "pytorch model gives 4 outputs but the labels file names 3: ['blue', 'green', 'yellow']",
        ),
    ],
)
@pytest.mark.parametrize("form", FORMS)
def test_a_network_of_another_width_is_refused_naming_both_widths(network, refusal, form, tmp_path):
    with pytest.raises(ModelContractError) as refused:
        build(delivery(tmp_path, network.eval(), "logits", form), tmp_path / "models", probe_rows=10)
    assert str(refused.value) == refusal
    assert not (tmp_path / "models").exists()


def test_a_descriptor_naming_an_unknown_format_is_refused(tmp_path):
    source = delivery(tmp_path, tanh_network().eval(), "logits")
    (source / "models.toml").write_text('[pytorch]\nfile = "network.pt"\nformat = "keras"\n')
    with pytest.raises(ModelContractError) as refused:
        build(source, tmp_path / "models", probe_rows=10)
    assert str(refused.value) == (
        "models.toml: [pytorch] format 'keras' is not one of"
        " ['crystal-mlp-state-dict', 'torchscript', 'torch-export', 'onnx']"
    )


@pytest.mark.parametrize(
    ("program", "refusal"),
    [
        (
            lambda: exported_program(tanh_network().eval(), batch=None),
            "was exported for a batch of 2 rows only: export it with a dynamic batch"
            " (dynamic_shapes={0: torch.export.Dim(...)})",
        ),
        (
            # Dropout and batch norm captured while training: its scores change from run to run
            lambda: exported_program(deep_mlp_with_dropout_and_batch_norm().train()),
            "scores the same rows differently from run to run or batch to batch: export it from a network in eval mode",
        ),
    ],
    ids=["one batch size", "training mode"],
)
def test_a_program_that_cannot_serve_every_batch_as_evaluated_is_refused(program, refusal, tmp_path):
    source = delivery(tmp_path, tanh_network().eval(), "logits")
    torch.export.save(program(), str(source / "network.pt"))
    (source / "models.toml").write_text('[pytorch]\nfile = "network.pt"\nformat = "torch-export"\n')
    with pytest.raises(ModelContractError) as refused:
        build(source, tmp_path / "models", probe_rows=10)
    assert str(refused.value) == f"pytorch model (network.pt) {refusal}"
