"""An inference response written: the outputs asked for, in the order the model lists them, with the scores
written as the droids' API writes them, so that the numbers are the same on both faces."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from kyber.inference_protocol.codec import TensorSpec, encoded
from kyber.inference_protocol.request import Inference
from kyber.registry import CrystalModel
from kyber.scores_json import quoted_labels


def inference_response(
    model: CrystalModel, request: Inference, scores: np.ndarray, outputs: tuple[TensorSpec, TensorSpec]
) -> str:
    """The response object with the outputs asked for, in the order the model lists them. Scores are written
    as the native routes write them, so the numbers are the same; the labels' JSON is built once per model."""
    probabilities, labels = outputs
    rows = len(scores)
    written = orjson.dumps(np.ascontiguousarray(scores, dtype=np.float64).ravel(), option=orjson.OPT_SERIALIZE_NUMPY)
    tensors = []
    if probabilities.name in request.outputs:
        count = request.outputs[probabilities.name]
        if count is None:
            data, shape, datatype = written, [rows, scores.shape[1]], probabilities.datatype
        else:
            data, shape, datatype = _classified(written, scores, model.labels, count), [rows, count], "BYTES"
        tensors.append(encoded(probabilities.name, datatype, shape, data))
    if labels.name in request.outputs:
        quoted = quoted_labels(model.labels)
        data = b"[" + b",".join(quoted[scores.argmax(axis=1)].tolist()) + b"]"
        tensors.append(encoded(labels.name, labels.datatype, [rows], data))
    response: dict[str, Any] = {"model_name": model.name, "model_version": model.version}
    if request.request_id is not None:
        response["id"] = request.request_id
    response["outputs"] = tensors
    return orjson.dumps(response).decode()


def _classified(written: bytes, scores: np.ndarray, labels: tuple[str, ...], count: int) -> bytes:
    """The classification extension: per row, the count best "score:index:label" strings, best first."""
    texts = written[1:-1].decode().split(",")
    width = scores.shape[1]
    best = np.argsort(-scores, axis=1, kind="stable")[:, :count]
    entries = [
        f"{texts[row * width + index]}:{index}:{labels[index]}"
        for row, indices in enumerate(best.tolist())
        for index in indices
    ]
    return orjson.dumps(entries)
