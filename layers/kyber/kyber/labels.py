"""The output labels file delivered with the models: a Python-literal list, label i names output i."""

from __future__ import annotations

import ast
from pathlib import Path


class LabelsFileError(ValueError):
    """The labels file is not a Python-literal list of distinct, non-empty strings."""


def parse_labels(text: str) -> tuple[str, ...]:
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise LabelsFileError("labels file is not a Python literal") from exc
    if not isinstance(value, (list, tuple)) or not value:
        raise LabelsFileError("labels file must hold a non-empty list")
    if not all(isinstance(label, str) and label for label in value):
        raise LabelsFileError("every label must be a non-empty string")
    if len(set(value)) != len(value):
        raise LabelsFileError("labels must be distinct")
    return tuple(value)


def read_labels(path: Path) -> tuple[str, ...]:
    return parse_labels(path.read_text(encoding="utf-8"))
