"""A prediction as JSON text: {"prediction": [label, ...], "scores": [{label: score, ...}, ...]}, the droids' answer
and, in a data-capture record, a challenger's output; and the labels quoted as JSON, which the protocol's label output
writes too, so that the labels and numbers are the same everywhere.

The text is assembled from the scores array as a whole: orjson writes every float of it at once, in the same
shortest form it gives a Python float, and one %-formatting lays the keys around them. No dict or list is built per
row.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import orjson


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
