"""A model the ML team delivers as ONNX, served as it is: checked against the contract (one float input of width 4
with a dynamic batch, one float output of the labels' width, an opset ONNX Runtime loads), its output renamed to the
service's, a softmax appended when it gives logits. No native model exists to compare it with, so the build checks
instead that its scores are probabilities on every probe row, and its card says that no native model was compared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from model_build.contract import FEATURE_COUNT, ModelContractError, check_contract
from model_build.export import PROBABILITIES_OUTPUT
from model_build.parity import ParityError

# ONNX Runtime guarantees opsets from 7; the newest is that of the onnx package pinned with it (1.32 loads 28).
OLDEST_OPSET = 7
NEWEST_OPSET = onnx.defs.onnx_opset_version()
FLOAT_TYPES = {TensorProto.FLOAT: "float32", TensorProto.DOUBLE: "float64"}
# How far a row's scores may sum from 1: float32 rounding over a softmax of a few labels stays far below it.
SUM_TOLERANCE = 1e-4


def _dims(value: onnx.ValueInfoProto) -> list[int | str | None]:
    """A graph input's or output's shape: a number per fixed dimension, its name or None per dynamic one."""
    shape = value.type.tensor_type.shape
    if not value.type.tensor_type.HasField("shape"):
        return []
    return [dim.dim_value if dim.HasField("dim_value") else (dim.dim_param or None) for dim in shape.dim]


def _opset(model: onnx.ModelProto, where: str) -> int:
    opset = next((entry.version for entry in model.opset_import if entry.domain in ("", "ai.onnx")), None)
    if opset is None or not OLDEST_OPSET <= opset <= NEWEST_OPSET:
        raise ModelContractError(f"{where}: opset {opset} is outside ONNX Runtime's {OLDEST_OPSET} to {NEWEST_OPSET}")
    return opset


def _input(model: onnx.ModelProto, where: str) -> onnx.ValueInfoProto:
    initializers = {tensor.name for tensor in model.graph.initializer}
    inputs = [value for value in model.graph.input if value.name not in initializers]
    if len(inputs) != 1:
        raise ModelContractError(f"{where} takes {len(inputs)} inputs, not one [batch, {FEATURE_COUNT}]")
    (value,) = inputs
    dims = _dims(value)
    if value.type.tensor_type.elem_type not in FLOAT_TYPES or len(dims) != 2:
        raise ModelContractError(f"{where}'s input {value.name!r} must be a float or double [batch, {FEATURE_COUNT}]")
    if isinstance(dims[0], int):
        raise ModelContractError(f"{where}'s input has a fixed batch of {dims[0]}: export it with a dynamic batch")
    return value


def _scores_output(model: onnx.ModelProto, where: str) -> onnx.ValueInfoProto:
    """The one float output with a score per label; other outputs (a label tensor, say) are left unread."""
    scores = [value for value in model.graph.output if value.type.tensor_type.elem_type in FLOAT_TYPES]
    if len(scores) != 1 or len(_dims(scores[0])) != 2:
        names = [value.name for value in scores]
        raise ModelContractError(f"{where} must give one float [batch, labels] output, not {names}")
    return scores[0]


def _renamed(model: onnx.ModelProto, old: str, new: str) -> None:
    """Every use of the tensor name old, in nodes and outputs, renamed new."""
    for node in model.graph.node:
        node.output[:] = [new if name == old else name for name in node.output]
        node.input[:] = [new if name == old else name for name in node.input]
    for value in model.graph.output:
        if value.name == old:
            value.name = new


def prepared(name: str, path: Path, output: str, labels: tuple[str, ...]) -> onnx.ModelProto:
    """The delivered ONNX file checked against the contract, its scores output named as the service reads it, with
    a softmax when they are logits."""
    where = f"onnx model ({path.name})"
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf's DecodeError, or an OSError
        raise ModelContractError(f"{where} is not an ONNX file: {str(exc).splitlines()[0][:200]}") from exc
    _opset(model, where)
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise ModelContractError(f"{where} is not a valid ONNX model: {str(exc).splitlines()[0][:200]}") from exc
    scores = _scores_output(model, where)
    # A width the graph leaves open is read as -1: refused like any other, naming it.
    widths = [dims[1] if isinstance(dims[1], int) else -1 for dims in (_dims(_input(model, where)), _dims(scores))]
    check_contract(name, widths[0], widths[1], labels)
    if PROBABILITIES_OUTPUT in {value.name for value in model.graph.output} - {scores.name}:
        raise ModelContractError(f"{where} has another output named {PROBABILITIES_OUTPUT!r}")
    if output == "logits":
        logits = f"{scores.name}_logits"
        _renamed(model, scores.name, logits)
        model.graph.node.append(helper.make_node("Softmax", [logits], [PROBABILITIES_OUTPUT], axis=1))
        scores.name = PROBABILITIES_OUTPUT
    else:
        _renamed(model, scores.name, PROBABILITIES_OUTPUT)
    onnx.checker.check_model(model)
    return model


def check_probabilities(name: str, rows: np.ndarray, scores: np.ndarray) -> None:
    """A ParityError unless every row's scores are finite, within [0, 1] and sum to 1: what the service serves as
    probabilities, checked on the probe rows since no native model can vouch for them."""
    sums = scores.astype(np.float64).sum(axis=1)
    bad = ~np.isfinite(scores).all(axis=1) | (scores < 0).any(axis=1) | (scores > 1).any(axis=1)
    bad |= np.abs(sums - 1.0) > SUM_TOLERANCE
    if bad.any():
        first = int(np.argmax(bad))
        raise ParityError(
            f"{name}: the delivered ONNX gives scores that are not probabilities on {int(bad.sum()):,} of "
            f"{len(rows):,} probe rows, e.g. {scores[first].tolist()} for {rows[first].tolist()}"
            ' (logits? say output = "logits" in models.toml)'
        )
