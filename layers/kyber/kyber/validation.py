"""Request parsing: the JSON body, /astromech's model choice and the crystalData batch.

The happy path is checked as a whole (types by C-level set operations, values as one float64
array); only a batch already known to be bad is walked row by row, to say what and where.
"""

from __future__ import annotations

import base64
import binascii
import gc
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import orjson

from kyber.errors import BatchTooLargeError, CrystalBatchError, ModelChoiceError, crystal_data_problems

# A JSON number is one of these once parsed; anything else (bool included: type(True) is bool) is not a number.
NUMBER_TYPES = frozenset((int, float))
# Room for a batch at the default row limit written with full-precision numbers (README, "The API").
MAX_REREAD_BYTES = 1 << 20


@dataclass(frozen=True)
class _Unrepresentable:
    """A number a double cannot hold (NaN, Infinity, 1e400), kept to be reported where it stands."""

    problem: str


def _number(text: str) -> float | _Unrepresentable:
    value = float(text)
    return value if math.isfinite(value) else _Unrepresentable("number overflows a double")


def _non_finite_literal(text: str) -> _Unrepresentable:
    return _Unrepresentable(f"{text} is not a finite number")


@contextmanager
def collection_paused() -> Iterator[None]:
    """Parsing a large body creates tens of thousands of lists and no reference cycle: the garbage
    collections those allocations would trigger walk them for nothing. Freed within the pause, they
    leave the collector's count where it was, so none runs after it either."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def parse_json_body(body: object, *, is_base64_encoded: bool = False) -> Any:
    """Decode the request body; a body that is not JSON text is a CrystalBatchError. Call it within
    collection_paused, with the checks of what it returns, as Classifier.classify does."""
    if body is not None and not isinstance(body, str):
        raise CrystalBatchError(f"request body must be JSON text, got {json_kind(body)} in the event")
    if is_base64_encoded and body:
        try:
            raw: str | bytes = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise CrystalBatchError("request body is not valid base64") from None
    else:
        raw = body or ""
    if not raw.strip():
        raise CrystalBatchError("request body is empty; expected a JSON object")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        parse_error = str(exc)
    # orjson refuses NaN, Infinity and numbers that overflow a double outright; the stdlib
    # parser, told to mark them, lets validation report them by row and position instead. It is
    # several times slower than orjson, so only bodies a batch within the row limit can need are read again.
    if len(raw) > MAX_REREAD_BYTES:
        raise CrystalBatchError(f"request body is not valid JSON: {parse_error}")
    try:
        return json.loads(raw, parse_float=_number, parse_int=_number, parse_constant=_non_finite_literal)
    except (ValueError, RecursionError):
        raise CrystalBatchError(f"request body is not valid JSON: {parse_error}") from None


def require_object(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise CrystalBatchError(f"request body must be a JSON object, got {json_kind(payload)}")
    return payload


def parse_model_choice(payload: dict[str, Any], choices: tuple[str, ...]) -> str:
    expected = " or ".join(f'"{choice}"' for choice in choices)
    if "model" not in payload or payload["model"] is None:
        raise ModelChoiceError(f"model is required: {expected}")
    model = payload["model"]
    if not isinstance(model, str):
        raise ModelChoiceError(f"model must be a string, {expected}; got {json_kind(model)}")
    if model not in choices:
        raise ModelChoiceError(f"unknown model {model[:40]!r}: expected {expected}")
    return model


def parse_crystal_batch(payload: dict[str, Any], *, feature_count: int, max_rows: int) -> np.ndarray:
    """Return crystalData as an (n, feature_count) float64 array, or raise what is wrong with it."""
    if "crystalData" not in payload:
        raise CrystalBatchError(f"crystalData is required: a list of rows of {feature_count} numbers")
    rows = payload["crystalData"]
    if not isinstance(rows, list):
        raise CrystalBatchError(f"crystalData must be a list of rows, got {json_kind(rows)}")
    if not rows:
        raise CrystalBatchError("crystalData is empty; send at least one row")
    if len(rows) > max_rows:
        raise BatchTooLargeError(
            f"crystalData has {len(rows)} rows; the limit is {max_rows} rows per request",
            limit=max_rows,
        )
    batch = _as_float_array(rows, feature_count)
    if batch is None:
        problems = list(_problems(rows, feature_count))
        raise crystal_data_problems(len(problems), ("invalid entry", "invalid entries"), problems)
    return batch


def crystal_batch_schema(feature_count: int, max_rows: int, models: list[str] | None) -> dict[str, Any]:
    """The JSON Schema of a body parse_crystal_batch takes (with, when models are given, the model choice
    parse_model_choice takes), for the API's description."""
    number = {"type": "number", "description": "A finite measurement; JSON integers are numbers."}
    row = {"type": "array", "items": number, "minItems": feature_count, "maxItems": feature_count}
    properties: dict[str, Any] = {
        "crystalData": {
            "type": "array",
            "items": row,
            "minItems": 1,
            "maxItems": max_rows,
            "description": f"One row of {feature_count} measurements per sample; at most {max_rows} rows.",
        }
    }
    if models:
        properties["model"] = {"type": "string", "enum": models, "description": "The model that scores the rows."}
    return {"type": "object", "required": sorted(properties), "properties": properties}


def are_rows_of(rows: list[Any], width: int) -> bool:
    """Whether every item is a list of width values: the shape check of a batch's rows, by the set of their types
    and lengths, on both faces."""
    return set(map(type, rows)) == {list} and set(map(len, rows)) == {width}


def _as_float_array(rows: list[Any], feature_count: int) -> np.ndarray | None:
    if not are_rows_of(rows, feature_count):
        return None
    if not set(map(type, chain.from_iterable(rows))) <= NUMBER_TYPES:
        return None
    values = np.fromiter(chain.from_iterable(rows), dtype=np.float64, count=len(rows) * feature_count)
    return values.reshape(len(rows), feature_count)


def _problems(rows: list[Any], feature_count: int) -> Iterator[dict[str, Any]]:
    for row_index, row in enumerate(rows):
        if not isinstance(row, list):
            yield {
                "row": row_index,
                "error": f"row must be a list of {feature_count} numbers, got {json_kind(row)}",
            }
        elif len(row) != feature_count:
            yield {"row": row_index, "error": f"row must have exactly {feature_count} values, got {len(row)}"}
        else:
            for position, value in enumerate(row):
                problem = value_problem(value)
                if problem:
                    yield {"row": row_index, "position": position, "error": problem}


def value_problem(value: Any) -> str | None:
    """What is wrong with one parsed value, or None. Every number parse_json_body gives is finite: it gives the
    others (NaN, Infinity, 1e400) as markers of their problem."""
    if isinstance(value, _Unrepresentable):
        return value.problem
    return None if type(value) in NUMBER_TYPES else f"{json_kind(value)} is not a number"


def json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, _Unrepresentable):
        return "a non-finite number"
    return "a number"
