"""Domain errors of the service; kyber.api is the one place that turns them into HTTP statuses."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice
from typing import Any

# A 422 lists at most this many problems, with their count, so its size is bounded.
MAX_REPORTED_PROBLEMS = 10
# The details of a 422 for crystalData problems and of a 413, as the API's description gives them.
_PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["row", "error"],
    "properties": {
        "row": {"type": "integer", "minimum": 0, "description": "Index of the row in crystalData."},
        "position": {"type": "integer", "minimum": 0, "description": "Index of the value in its row."},
        "error": {"type": "string"},
    },
}
CRYSTAL_DATA_PROBLEMS_SCHEMA = {
    "errors": {"type": "array", "items": _PROBLEM_SCHEMA, "maxItems": MAX_REPORTED_PROBLEMS},
    "errorCount": {"type": "integer", "minimum": 1},
}
BATCH_TOO_LARGE_SCHEMA = {"limit": {"type": "integer", "minimum": 1}}


class ServiceError(Exception):
    """An error the client is told about, with a short message and optional details."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ModelChoiceError(ServiceError):
    """/astromech was asked for a model that is missing, not a string, or unknown."""


class CrystalBatchError(ServiceError):
    """The request body or its crystalData is not a batch of finite measurements."""


class UnscorableRowsError(CrystalBatchError):
    """Rows whose values are so large that the model's own arithmetic overflows: it gives no scores for them,
    as the native library gives none."""

    def __init__(self, model: str, rows: tuple[int, ...]) -> None:
        problem = f"the {model} model has no finite scores for values this large"
        nouns = (f"row the {model} model cannot score", f"rows the {model} model cannot score")
        listed = crystal_data_problems(len(rows), nouns, ({"row": row, "error": problem} for row in rows))
        super().__init__(listed.message, **listed.details)
        self.rows = rows


class BatchTooLargeError(ServiceError):
    """crystalData has more rows than the configured maximum."""


class InferenceRequestError(ServiceError):
    """An inference request (Open Inference Protocol) whose structure the model cannot take: its inputs, shape,
    datatype, outputs or parameters."""


class ModelNotFoundError(ServiceError):
    """A model, or a version of one, that this function does not serve."""


class NotJsonError(ServiceError):
    """A request body that is not JSON text: binary tensor data, or a content type that says so."""


def crystal_data_problems(count: int, nouns: tuple[str, str], problems: Iterable[dict[str, Any]]) -> CrystalBatchError:
    """The 422 for count problems in crystalData: what they are (nouns: singular, plural), the first
    MAX_REPORTED_PROBLEMS of them, and how many there are."""
    return CrystalBatchError(
        f"crystalData has {count} {nouns[count != 1]}",
        errors=list(islice(problems, MAX_REPORTED_PROBLEMS)),
        errorCount=count,
    )


class ModelFailureError(Exception):
    """A model failed while predicting; the details go to the log, never to the client."""


class ModelArtifactError(Exception):
    """The compiled model artifacts are missing, inconsistent or do not match the manifest."""
