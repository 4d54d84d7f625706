"""What both faces read the same way: the JSON body (numbers a double cannot hold kept as markers of their problem),
the object it must be, the shape of a batch's rows and what is wrong with one value."""

from __future__ import annotations

import base64
import binascii
import gc
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from kyber.errors import CrystalBatchError

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
    collection_paused, with the checks of what it returns, as each face does."""
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


def are_rows_of(rows: list[Any], width: int) -> bool:
    """Whether every item is a list of width values: the shape check of a batch's rows, by the set of their types
    and lengths, on both faces."""
    return set(map(type, rows)) == {list} and set(map(len, rows)) == {width}


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
