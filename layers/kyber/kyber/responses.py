"""What a function answers: a JSON response in API Gateway's proxy format, and the 200's body (the most
probable label per row and every label's score).

The 200's text is assembled from the scores array as a whole: orjson writes every float of it at once, in
the same shortest form it gives a Python float, and one %-formatting lays the keys around them. No
dict or list is built per row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from http import HTTPStatus
from typing import Any

import numpy as np
import orjson

APPLICATION_JSON = "application/json"


@dataclass(frozen=True)
class JsonResponse:
    """A JSON answer: its status, its body as JSON text, and headers besides Content-Type."""

    status: HTTPStatus
    body: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def to_proxy_response(self) -> dict[str, Any]:
        """The response as API Gateway's REST proxy integration takes it."""
        headers = {name: [value] for name, value in self.headers.items()}
        headers["Content-Type"] = [APPLICATION_JSON]
        return {
            "statusCode": int(self.status),
            "multiValueHeaders": headers,
            "body": self.body,
            "isBase64Encoded": False,
        }


def json_text(body: object) -> str:
    return orjson.dumps(body).decode()


@lru_cache(maxsize=8)
def _pieces(labels: tuple[str, ...]) -> tuple[np.ndarray, bytes]:
    """Each label as a JSON string, and a row's text with a %b slot for each score."""
    quoted = [orjson.dumps(label) for label in labels]
    row = b"{" + b",".join(label.replace(b"%", b"%%") + b":%b" for label in quoted) + b"}"
    return np.array(quoted, dtype=object), row


def quoted_labels(labels: tuple[str, ...]) -> np.ndarray:
    """Each label as JSON text, in an array that a row's argmax indexes."""
    return _pieces(labels)[0]


def prediction_json(labels: tuple[str, ...], scores: np.ndarray, top: np.ndarray | None = None) -> str:
    """{"prediction": [label, ...], "scores": [{label: score, ...}, ...]} for scores of shape (rows, labels);
    top, when given, is each row's highest-scoring label index (scores.argmax(axis=1))."""
    quoted, row = _pieces(labels)
    written = orjson.dumps(np.ascontiguousarray(scores, dtype=np.float64).ravel(), option=orjson.OPT_SERIALIZE_NUMPY)
    # One formatting of every row's slots at once, with the scores in row order.
    body = b",".join([row] * len(scores)) % tuple(written[1:-1].split(b","))
    prediction = b",".join(quoted[scores.argmax(axis=1) if top is None else top].tolist())
    return (b'{"prediction":[' + prediction + b'],"scores":[' + body + b"]}").decode()


def prediction_schema(labels: tuple[str, ...]) -> dict[str, Any]:
    """The JSON Schema of prediction_json's answer, for the API's description."""
    score = {"type": "number", "minimum": 0, "maximum": 1}
    return {
        "type": "object",
        "required": ["prediction", "scores"],
        "properties": {
            "prediction": {
                "type": "array",
                "items": {"type": "string"},
                "description": "The label with the highest score, one per row, in request order.",
            },
            "scores": {
                "type": "array",
                "items": {"type": "object", "additionalProperties": score},
                "description": f"Every label's score, one object per row; labels come from the models' labels "
                f"file (the default models: {', '.join(labels)}).",
            },
        },
    }
