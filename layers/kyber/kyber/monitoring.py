"""What the models see in production: per request, each label's predictions, the rows outside the training
data's range and the rows of low confidence, as embedded-metric-format lines; for a sampled share of the
requests, a record of the request and its answer in SageMaker's data-capture format.

Both are lines on stdout, which CloudWatch Logs turns into metrics (EMF) and the stack's subscription filter
delivers to S3 (capture): a request pays for counting with numpy and writing text, never for an API call.
The metric lines of a model are laid out once, at init, with a slot for each figure.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson

from kyber.manifest import TrainingRange
from kyber.observability import logger

PREDICTIONS = "Predictions"
ROWS_SCORED = "RowsScored"
ROWS_OUTSIDE_TRAINING_RANGE = "RowsOutsideTrainingRange"
LOW_CONFIDENCE_ROWS = "LowConfidenceRows"
# A CloudWatch Logs event holds at most 256 KiB, 26 bytes of which are its own overhead.
MAX_CAPTURE_BYTES = 262_144 - 26
CAPTURE_EVENT_VERSION = "0"


def _json_fields(fields: Mapping[str, Any]) -> bytes:
    """The members of a JSON object, without its braces, with % escaped for %-formatting."""
    return orjson.dumps(fields)[1:-1].replace(b"%", b"%%")


@dataclass(frozen=True)
class ModelMonitor:
    """The figures one model's requests report: the batch is compared with the training range, the scores
    with the confidence threshold, and one EMF line is written per label (a dimension holds one value per
    line); the first also carries the model's row figures."""

    labels: tuple[str, ...]
    # Each feature's lowest and highest value in the training data, when the manifest records them.
    bounds: tuple[np.ndarray, np.ndarray] | None
    low_confidence_threshold: float
    # One %-format per label, its slots: the label's count, then (first line only) the model's figures, then
    # the timestamp.
    lines: tuple[bytes, ...]

    @classmethod
    def create(
        cls,
        *,
        namespace: str,
        service: str,
        model: str,
        labels: tuple[str, ...],
        training_range: TrainingRange | None,
        low_confidence_threshold: float,
    ) -> ModelMonitor:
        model_metrics = [ROWS_SCORED, LOW_CONFIDENCE_ROWS]
        if training_range is not None:
            model_metrics.insert(1, ROWS_OUTSIDE_TRAINING_RANGE)
        lines = []
        for index, label in enumerate(labels):
            directives: list[dict[str, Any]] = [
                {
                    "Namespace": namespace,
                    "Dimensions": [["service", "model", "label"]],
                    "Metrics": [{"Name": PREDICTIONS, "Unit": "Count"}],
                }
            ]
            names = [PREDICTIONS]
            if index == 0:
                directives.append(
                    {
                        "Namespace": namespace,
                        "Dimensions": [["service", "model"]],
                        "Metrics": [{"Name": name, "Unit": "Count"} for name in model_metrics],
                    }
                )
                names += model_metrics
            dimensions = _json_fields({"service": service, "model": model, "label": label})
            directive_text = _json_fields({"CloudWatchMetrics": directives})
            figures = b"".join(b',"%b":%%d' % name.encode() for name in names)
            lines.append(b'{%b%b,"_aws":{%b,"Timestamp":%%d}}\n' % (dimensions, figures, directive_text))
        bounds = None
        if training_range is not None:
            bounds = (np.array(training_range.minimum), np.array(training_range.maximum))
        return cls(labels, bounds, low_confidence_threshold, tuple(lines))

    def figures(self, batch: np.ndarray, probabilities: np.ndarray) -> tuple[list[int], list[int]]:
        """Rows predicted per label, in label order; and the model's: rows, [rows outside the training
        range,] rows whose top score is below the threshold."""
        per_label = np.bincount(probabilities.argmax(axis=1), minlength=len(self.labels)).tolist()
        model_figures = [len(batch)]
        if self.bounds is not None:
            low, high = self.bounds
            model_figures.append(int(np.count_nonzero(((batch < low) | (batch > high)).any(axis=1))))
        model_figures.append(int(np.count_nonzero(probabilities.max(axis=1) < self.low_confidence_threshold)))
        return per_label, model_figures

    def write(self, batch: np.ndarray, probabilities: np.ndarray) -> None:
        per_label, model_figures = self.figures(batch, probabilities)
        timestamp = int(time.time() * 1000)
        first, *others = self.lines
        text = [first % (per_label[0], *model_figures, timestamp)]
        text += [line % (count, timestamp) for line, count in zip(others, per_label[1:], strict=True)]
        sys.stdout.write(b"".join(text).decode())
        sys.stdout.flush()


@dataclass(frozen=True)
class DataCapture:
    """Writes a sampled share of the answered requests as SageMaker data-capture records, one line each."""

    percent: float

    def sampled(self) -> bool:
        # Python's generator, seeded afresh after a SnapStart restore (kyber.snapstart).
        return self.percent > 0 and random.random() * 100 < self.percent

    def write(self, event: Mapping[str, Any], answer: str) -> None:
        record = capture_record(event, answer, datetime.now(UTC))
        if len(record) > MAX_CAPTURE_BYTES:
            logger.info("request not captured: its record exceeds a log event", record_bytes=len(record))
            return
        sys.stdout.write(record.decode() + "\n")
        sys.stdout.flush()


def _content_type(event: Mapping[str, Any]) -> str:
    headers = event.get("headers") or {}
    found = next((value for name, value in headers.items() if name.lower() == "content-type"), None)
    return found if isinstance(found, str) and found else "application/json"


def capture_record(event: Mapping[str, Any], answer: str, inference_time: datetime) -> bytes:
    """The request and its JSON answer as a SageMaker data-capture record (eventVersion 0); the event id is
    API Gateway's request id."""
    body = event.get("body")
    is_base64 = event.get("isBase64Encoded") is True
    request_id = (event.get("requestContext") or {}).get("requestId", "")
    return orjson.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": _content_type(event),
                    "mode": "INPUT",
                    "data": body if isinstance(body, str) else "",
                    "encoding": "BASE64" if is_base64 else "JSON",
                },
                "endpointOutput": {
                    "observedContentType": "application/json",
                    "mode": "OUTPUT",
                    "data": answer,
                    "encoding": "JSON",
                },
            },
            "eventMetadata": {
                "eventId": request_id,
                "inferenceTime": inference_time.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            },
            "eventVersion": CAPTURE_EVENT_VERSION,
        }
    )
