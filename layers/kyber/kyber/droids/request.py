"""A droid's request read: /astromech's model choice and the crystalData batch, from the JSON object the body holds
(kyber.validation), and the JSON Schema of such a body.

The happy path is checked as a whole (types by C-level set operations, values as one float64
array); only a batch already known to be bad is walked row by row, to say what and where.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from typing import Any

import numpy as np

from kyber.errors import BatchTooLargeError, CrystalBatchError, ModelChoiceError, crystal_data_problems
from kyber.validation import NUMBER_TYPES, are_rows_of, json_kind, value_problem


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
