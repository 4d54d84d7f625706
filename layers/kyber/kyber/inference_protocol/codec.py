"""The protocol's datatypes in one table, and a tensor both ways: a request's input tensor decoded into the float64
batch the models score, and an output tensor encoded as the protocol's JSON. What the droids' API reads as
crystalData, this reads as a tensor: the same number types, the same row check."""

from __future__ import annotations

import math
from itertools import chain, islice
from typing import Any, NamedTuple, TypeGuard

import numpy as np
import orjson

from kyber.errors import CrystalBatchError, InferenceRequestError
from kyber.validation import NUMBER_TYPES, are_rows_of, value_problem

ONNX_DATATYPES = {"tensor(double)": "FP64", "tensor(float)": "FP32"}


# The largest finite value of each datatype a client may declare; every value is read as the JSON number it
# is, in double precision, so a row scores as it does on the native routes whatever the declared datatype.
# Written out rather than asked of numpy's finfo and iinfo, whose first calls are a noticeable part of an init.
FLOAT_LIMITS = {"FP16": 65504.0, "FP32": 3.4028234663852886e38, "FP64": math.inf}


INTEGER_DATATYPES = {
    **{f"INT{bits}": (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) for bits in (8, 16, 32, 64)},
    **{f"UINT{bits}": (0, 2**bits - 1) for bits in (8, 16, 32, 64)},
}


def accepts(datatype: Any) -> TypeGuard[str]:
    """Whether a request may declare its input of this datatype."""
    return isinstance(datatype, str) and (datatype in FLOAT_LIMITS or datatype in INTEGER_DATATYPES)


class TensorSpec(NamedTuple):
    name: str
    datatype: str
    shape: list[int]

    def metadata(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": self.shape}


class InputLimits(NamedTuple):
    """What the input tensor must be: its name, the model's feature count, and the most rows a request may carry."""

    name: str
    features: int
    max_rows: int


def _flat_values(data: list[Any], rows: int, limits: InputLimits) -> list[Any]:
    """The values in row-major order, from flat data or from data nested as the shape ([[f1, ...], ...])."""
    features = limits.features
    if data and type(data[0]) is list:
        if len(data) != rows or not are_rows_of(data, features):
            raise InferenceRequestError(
                f"input {limits.name!r} data nested as rows must be {rows} lists of {features} values,"
                f" as its shape [{rows}, {features}] says"
            )
        return list(chain.from_iterable(data))
    if len(data) != rows * features:
        raise InferenceRequestError(
            f"input {limits.name!r} has {len(data)} values; its shape [{rows}, {features}] needs {rows * features}"
        )
    return data


def _as_batch(flat: list[Any], rows: int, limits: InputLimits) -> np.ndarray:
    if set(map(type, flat)) <= NUMBER_TYPES:
        # finite: the parser gives NaN, Infinity and 1e400 as markers (kyber.validation.value_problem)
        return np.array(flat, dtype=np.float64).reshape(rows, limits.features)
    problems = [(index, problem) for index, value in enumerate(flat) if (problem := value_problem(value))]
    listed = "; ".join(
        f"row {index // limits.features} position {index % limits.features}: {problem}"
        for index, problem in islice(problems, 3)
    )
    count = len(problems)
    raise CrystalBatchError(f"input {limits.name!r} has {count} invalid value{'s' * (count != 1)}: {listed}")


def _check_range(batch: np.ndarray, flat: list[Any], datatype: str, input_name: str) -> None:
    """Values must be what the declared datatype holds: within its range, and whole numbers for integers."""
    if datatype in FLOAT_LIMITS:
        limit = FLOAT_LIMITS[datatype]
        if limit < math.inf and float(np.abs(batch).max()) > limit:
            raise CrystalBatchError(f"input {input_name!r} holds values beyond {datatype}'s range (±{limit:g})")
        return
    low, high = INTEGER_DATATYPES[datatype]
    if set(map(type, flat)) != {int} or min(flat) < low or max(flat) > high:
        raise InferenceRequestError(
            f"input {input_name!r} is declared {datatype}: every value must be a whole number from {low} to {high}"
        )


def decoded(data: list[Any], datatype: str, rows: int, limits: InputLimits) -> np.ndarray:
    """The input tensor's data, flat or nested as its shape, as an (n, features) float64 batch."""
    flat = _flat_values(data, rows, limits)
    batch = _as_batch(flat, rows, limits)
    _check_range(batch, flat, datatype, limits.name)
    return batch


def encoded(name: str, datatype: str, shape: list[int], data: bytes) -> dict[str, Any]:
    """An output tensor whose data is JSON already written (written once, never parsed again)."""
    return {"name": name, "datatype": datatype, "shape": shape, "data": orjson.Fragment(data)}
