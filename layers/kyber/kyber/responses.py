"""The 200 response: the most probable label per row and every label's score."""

from __future__ import annotations

from typing import Any

import numpy as np


def prediction_body(labels: tuple[str, ...], scores: np.ndarray) -> dict[str, Any]:
    best = scores.argmax(axis=1)
    return {
        "prediction": np.asarray(labels, dtype=object)[best].tolist(),
        # The registry has checked that every row holds one score per label.
        "scores": [dict(zip(labels, row)) for row in scores.tolist()],  # noqa: B905
    }
