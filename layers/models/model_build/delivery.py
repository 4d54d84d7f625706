"""What the ML team's delivery says it is: layers/models/artifacts/models.toml names, per served model, its file,
its format and, for a network, whether its output is probabilities or logits. Without the file (or without a
model's table in it), a model is today's default: sklearn.model, a scikit-learn pickle; pytorch.model, the crystal
MLP's state_dict.

    [pytorch]
    file = "pytorch.pt"
    format = "torchscript"   # torch.jit.save of any network taking [batch, 4]; or "torch-export" (torch.export.save
                             # of a program with a dynamic batch), or "onnx" (served as delivered)
    output = "logits"        # the build adds the softmax to the exported graph

    [sklearn]
    file = "forest.onnx"
    format = "onnx"          # either model may be delivered as ONNX; no native model is then compared
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from model_build.contract import ModelContractError

DESCRIPTOR_FILE = "models.toml"
# The formats each served model may be delivered in.
FORMATS = {
    "sklearn": ("sklearn-pickle", "onnx"),
    "pytorch": ("crystal-mlp-state-dict", "torchscript", "torch-export", "onnx"),
}
OUTPUTS = ("probabilities", "logits")


@dataclass(frozen=True)
class Delivered:
    """One served model as delivered: its file in the delivery, its format, and what its output is."""

    name: str
    file: str
    format: str
    output: str = "probabilities"


DEFAULTS = {
    "sklearn": Delivered("sklearn", "sklearn.model", "sklearn-pickle"),
    "pytorch": Delivered("pytorch", "pytorch.model", "crystal-mlp-state-dict"),
}


def read_delivery(source: Path) -> dict[str, Delivered]:
    """Each served model of the delivery in source, from its models.toml or by default; a descriptor that names an
    unknown model, format, output or key is refused naming the model and what is wrong."""
    path = source / DESCRIPTOR_FILE
    if not path.exists():
        return dict(DEFAULTS)
    try:
        tables = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ModelContractError(f"{DESCRIPTOR_FILE} is not TOML: {exc}") from exc
    unknown = sorted(set(tables) - set(FORMATS))
    if unknown:
        raise ModelContractError(f"{DESCRIPTOR_FILE} names {unknown}: the served models are {sorted(FORMATS)}")
    return {name: _delivered(name, tables.get(name, {})) for name in FORMATS}


def _delivered(name: str, table: object) -> Delivered:
    if not isinstance(table, dict):
        raise ModelContractError(f"{DESCRIPTOR_FILE}: [{name}] must be a table")
    unknown = sorted(set(table) - {"file", "format", "output"})
    if unknown:
        raise ModelContractError(f"{DESCRIPTOR_FILE}: [{name}] has unknown keys {unknown}")
    default = DEFAULTS[name]
    delivered = Delivered(
        name,
        str(table.get("file", default.file)),
        str(table.get("format", default.format)),
        str(table.get("output", default.output)),
    )
    if delivered.format not in FORMATS[name]:
        raise ModelContractError(
            f"{DESCRIPTOR_FILE}: [{name}] format {delivered.format!r} is not one of {list(FORMATS[name])}"
        )
    if delivered.output not in OUTPUTS:
        raise ModelContractError(
            f"{DESCRIPTOR_FILE}: [{name}] output {delivered.output!r} is not one of {list(OUTPUTS)}"
        )
    if delivered.output == "logits" and delivered.format == "sklearn-pickle":
        raise ModelContractError(f"{DESCRIPTOR_FILE}: [{name}] a scikit-learn model gives probabilities, not logits")
    if Path(delivered.file).name != delivered.file:
        raise ModelContractError(f"{DESCRIPTOR_FILE}: [{name}] file {delivered.file!r} must be a file of the delivery")
    return delivered
