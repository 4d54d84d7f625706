"""The ML team's PyTorch network for Kyber crystals, shared by the training and the layer build scripts."""

from __future__ import annotations

from collections.abc import Mapping

import torch

HIDDEN_UNITS = 50
STATE_DICT_KEYS = (
    "layer1.weight",
    "layer1.bias",
    "layer2.weight",
    "layer2.bias",
    "layer3.weight",
    "layer3.bias",
)


class CrystalMLP(torch.nn.Module):
    """Linear(features, 50) -> ReLU -> Linear(50, 50) -> ReLU -> Linear(50, classes) -> softmax over dim 1."""

    def __init__(self, feature_count: int = 4, class_count: int = 3, hidden_units: int = HIDDEN_UNITS) -> None:
        super().__init__()
        self.layer1 = torch.nn.Linear(feature_count, hidden_units)
        self.layer2 = torch.nn.Linear(hidden_units, hidden_units)
        self.layer3 = torch.nn.Linear(hidden_units, class_count)

    @property
    def feature_count(self) -> int:
        return self.layer1.in_features

    @property
    def class_count(self) -> int:
        return self.layer3.out_features

    def architecture(self) -> str:
        features, hidden, classes = self.feature_count, self.layer1.out_features, self.class_count
        return (
            f"PyTorch MLP: Linear({features}, {hidden}), ReLU, Linear({hidden}, {hidden}), ReLU, "
            f"Linear({hidden}, {classes}), softmax"
        )

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.layer1(x))
        x = torch.relu(self.layer2(x))
        logits: torch.Tensor = self.layer3(x)
        return logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.logits(x), dim=1)

    @classmethod
    def from_state_dict(cls, state: Mapping[str, torch.Tensor]) -> CrystalMLP:
        """Build the network with the layer sizes the state dict holds, and load it strictly."""
        missing = [key for key in STATE_DICT_KEYS if key not in state]
        if missing:
            raise ValueError(f"state dict lacks {', '.join(missing)}")
        hidden_units, feature_count = state["layer1.weight"].shape
        class_count = state["layer3.weight"].shape[0]
        model = cls(feature_count=feature_count, class_count=class_count, hidden_units=hidden_units)
        model.load_state_dict(state, strict=True)
        return model.eval()


class DeliveredNetwork(torch.nn.Module):
    """A network the ML team delivered (TorchScript), as the build exports and serves it: its scores, with a
    softmax over them when they are logits, and the widths the contract checks."""

    def __init__(self, network: torch.nn.Module, feature_count: int, class_count: int, *, logits: bool) -> None:
        super().__init__()
        self.network = network
        self._widths = (feature_count, class_count)
        self.logits = logits
        # Served as evaluated: dropout off, batch norm on its running statistics. Exporting restores the mode the
        # module had, so it must be this one's too, not only its network's.
        self.eval()

    @property
    def feature_count(self) -> int:
        return self._widths[0]

    @property
    def class_count(self) -> int:
        return self._widths[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores = self.network(x)
        return torch.softmax(scores, dim=1) if self.logits else scores


class ExportedProgramModule(torch.nn.Module):
    """A torch.export program's module, frozen as it was exported: the module torch.export gives refuses train()
    and eval(), which every export to ONNX calls, so it is held outside the module tree, its weights constants."""

    program: torch.nn.Module

    def __init__(self, program_module: torch.nn.Module) -> None:
        super().__init__()
        for parameter in program_module.parameters():
            parameter.requires_grad_(False)
        object.__setattr__(self, "program", program_module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores: torch.Tensor = self.program(x)
        return scores
