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
from typing import Any, Protocol

import numpy as np
import orjson

from kyber.manifest import TrainingRange
from kyber.observability import logger, metric_lines_enabled
from kyber.proxy_event import body_of, headers_of

PREDICTIONS = "Predictions"
ROWS_SCORED = "RowsScored"
ROWS_OUTSIDE_TRAINING_RANGE = "RowsOutsideTrainingRange"
LOW_CONFIDENCE_ROWS = "LowConfidenceRows"
# A CloudWatch Logs event holds at most 256 KiB, 26 bytes of which are its own overhead.
MAX_CAPTURE_BYTES = 262_144 - 26
CAPTURE_EVENT_VERSION = "0"
# The challenger's output in a capture record, beside the champion's endpointOutput.
SHADOW_OUTPUT = "shadowOutput"


def json_fields(fields: Mapping[str, Any]) -> str:
    """The members of a JSON object, without its braces, with % escaped for %-formatting."""
    return orjson.dumps(fields)[1:-1].decode().replace("%", "%%")


# Up to this many rows, the figures are counted over Python lists: numpy's fixed cost per call is most of a
# small batch's time, and a request of one row is the common case.
SMALL_BATCH_ROWS = 16
# A row of a boolean array whose width is one of these reads as one integer, non-zero when any value is true.
_ROW_AS_INTEGER = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def rows_with_any(flags: np.ndarray) -> int:
    """How many rows of a C-contiguous 2-D boolean array hold a true value."""
    as_integer = _ROW_AS_INTEGER.get(flags.shape[1])
    if as_integer is None:
        return int(np.count_nonzero(flags.any(axis=1)))
    # numpy reduces along a short last axis one row at a time; a row read as one integer is one comparison.
    return int(np.count_nonzero(flags.view(as_integer)))


@dataclass(frozen=True)
class TrainingBounds:
    """The training range laid out for a whole batch at once: each row's bounds repeated up to the row limit,
    so a batch is compared as one flat array, not row by row against a broadcast one."""

    low: np.ndarray
    high: np.ndarray
    feature_count: int
    row_bounds: tuple[tuple[float, float], ...]

    @classmethod
    def create(cls, training_range: TrainingRange, max_rows: int) -> TrainingBounds:
        low, high = np.array(training_range.minimum), np.array(training_range.maximum)
        pairs = tuple(zip(training_range.minimum, training_range.maximum, strict=True))
        return cls(np.tile(low, max_rows), np.tile(high, max_rows), len(low), pairs)

    def rows_outside(self, batch: np.ndarray) -> int:
        if len(batch) <= SMALL_BATCH_ROWS:
            count = 0
            for row in batch.tolist():
                for value, (low, high) in zip(row, self.row_bounds, strict=True):
                    if value < low or value > high:
                        count += 1
                        break
            return count
        values = np.ascontiguousarray(batch).ravel()
        outside = values < self.low[: values.size]
        outside |= values > self.high[: values.size]
        return rows_with_any(outside.reshape(-1, self.feature_count))


@dataclass(frozen=True)
class ModelMonitor:
    """The figures one model's requests report: the batch is compared with the training range, the top scores
    with the confidence threshold, and one EMF line is written per label (a dimension holds one value per
    line); the first also carries the model's row figures."""

    labels: tuple[str, ...]
    bounds: TrainingBounds | None
    low_confidence_threshold: float
    # The lines of one request as one %-format, a line per label; the slots: the first label's count, the
    # model's figures and the timestamp, then each other label's count and the timestamp.
    lines: str
    # Off as Powertools' metrics are (kyber.observability.metric_lines_enabled).
    enabled: bool = True

    @classmethod
    def create(
        cls,
        *,
        namespace: str,
        service: str,
        model: str,
        labels: tuple[str, ...],
        training_range: TrainingRange | None,
        max_rows: int,
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
            dimensions = json_fields({"service": service, "model": model, "label": label})
            directive_text = json_fields({"CloudWatchMetrics": directives})
            figures = "".join(f',"{name}":%d' for name in names)
            lines.append(f'{{{dimensions}{figures},"_aws":{{{directive_text},"Timestamp":%d}}}}\n')
        bounds = None if training_range is None else TrainingBounds.create(training_range, max_rows)
        return cls(labels, bounds, low_confidence_threshold, "".join(lines), metric_lines_enabled())

    def counts(self, batch: np.ndarray, probabilities: np.ndarray, top: np.ndarray) -> tuple[list[int], list[int]]:
        """Rows predicted per label, in label order, from each row's top label; and the model's: rows, [rows
        outside the training range,] rows whose top score is below the threshold."""
        model_figures = [len(batch)]
        if self.bounds is not None:
            model_figures.append(self.bounds.rows_outside(batch))
        if len(batch) <= SMALL_BATCH_ROWS:
            per_label = [0] * len(self.labels)
            low_confidence = 0
            for scores, label in zip(probabilities.tolist(), top.tolist(), strict=True):
                per_label[label] += 1
                low_confidence += scores[label] < self.low_confidence_threshold
            return per_label, [*model_figures, low_confidence]
        per_label = np.bincount(top, minlength=len(self.labels)).tolist()
        top_scores = probabilities[np.arange(len(top)), top]
        model_figures.append(int(np.count_nonzero(top_scores < self.low_confidence_threshold)))
        return per_label, model_figures

    def write(self, batch: np.ndarray, probabilities: np.ndarray, top: np.ndarray) -> None:
        if not self.enabled:
            return
        (first, *others), model_figures = self.counts(batch, probabilities, top)
        timestamp = int(time.time() * 1000)
        slots = [first, *model_figures, timestamp]
        for count in others:
            slots += (count, timestamp)
        sys.stdout.write(self.lines % tuple(slots))


@dataclass(frozen=True)
class DataCapture:
    """Writes a sampled share of the answered requests as SageMaker data-capture records, one line each."""

    percent: float

    def sampled(self) -> bool:
        # Python's generator, seeded afresh after a SnapStart restore (kyber.snapstart).
        return self.percent > 0 and random.random() * 100 < self.percent

    def write(self, event: Mapping[str, Any], answer: str, shadow: Shadowed | None = None) -> None:
        record = capture_record(event, answer, datetime.now(UTC), shadow)
        if len(record) > MAX_CAPTURE_BYTES:
            logger.info("request not captured: its record exceeds a log event", record_bytes=len(record))
            return
        sys.stdout.write(record.decode() + "\n")


def _content_type(event: Mapping[str, Any]) -> str:
    found = headers_of(event).get("content-type")
    return found if isinstance(found, str) and found else "application/json"


class Shadowed(Protocol):
    """What a challenger made of a captured request (kyber.shadow.ShadowOutcome)."""

    def answer(self) -> str | None: ...

    def metadata(self) -> dict[str, Any]: ...


def _output(data: str) -> dict[str, str]:
    return {"observedContentType": "application/json", "mode": "OUTPUT", "data": data, "encoding": "JSON"}


def capture_record(
    event: Mapping[str, Any], answer: str, inference_time: datetime, shadow: Shadowed | None = None
) -> bytes:
    """An answered request (its body text, as sent) and its JSON answer as a SageMaker data-capture record
    (eventVersion 0); the event id is API Gateway's request id. A request the challenger shadowed also holds the
    challenger's scores (shadowOutput, in the droids' answer format) and what became of it (eventMetadata.shadow),
    under the same event id."""
    body, is_base64 = body_of(event)
    request_id = (event.get("requestContext") or {}).get("requestId", "")
    capture_data: dict[str, Any] = {
        "endpointInput": {
            "observedContentType": _content_type(event),
            "mode": "INPUT",
            "data": body,
            "encoding": "BASE64" if is_base64 else "JSON",
        },
        "endpointOutput": _output(answer),
    }
    metadata: dict[str, Any] = {
        "eventId": request_id,
        "inferenceTime": inference_time.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    if shadow is not None:
        shadow_answer = shadow.answer()
        if shadow_answer is not None:
            capture_data[SHADOW_OUTPUT] = _output(shadow_answer)
        metadata["shadow"] = shadow.metadata()
    return orjson.dumps({"captureData": capture_data, "eventMetadata": metadata, "eventVersion": CAPTURE_EVENT_VERSION})
