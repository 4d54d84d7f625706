"""The 200 body as the service first wrote it, to compare today's rendering with byte for byte."""

from __future__ import annotations

from typing import Any


def rendered_row_by_row(labels: tuple[str, ...], scores: Any) -> bytes:
    """The 200 body as the service first wrote it, one dict per row serialised by orjson: what its
    answers, now assembled from the scores array as a whole, must equal byte for byte."""
    import orjson

    return orjson.dumps(
        {
            "prediction": [labels[index] for index in scores.argmax(axis=1)],
            "scores": [dict(zip(labels, row, strict=True)) for row in scores.tolist()],
        }
    )
