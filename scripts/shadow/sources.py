"""The shadow's figures, per model, from where the stack keeps them: the capture records (a folder or S3, as
scripts/drift/capture.py reads them), which hold both models' outputs and scores per request; or the shadow's
metrics in CloudWatch, which hold the counts (the pairs of labels, errors, skips, the added time), not the scores."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from kyber.manifest import Manifest
from kyber.monitoring import SHADOW_OUTPUT
from kyber.shadow import (
    CHALLENGER_LABEL,
    CHAMPION_LABEL,
    SHADOW_AGREED_ROWS,
    SHADOW_ERRORS,
    SHADOW_FLIPS,
    SHADOW_MS,
    SHADOW_REQUESTS,
    SHADOW_SKIPPED,
)
from scripts.drift.capture import CaptureError, capture_files
from scripts.shadow.figures import ShadowFigures


class ShadowSourceError(ValueError):
    """The source holds no shadow figures, or something other than what the service writes."""


# One row's label and top score, by model.
Row = tuple[str, float, str, float]


@dataclass
class _Shadowed:
    """A model's shadowed requests, for one pair of versions, as the capture records tell them."""

    rows: list[Row] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    scored: int = 0
    errors: int = 0
    skipped: int = 0
    milliseconds: list[float] = field(default_factory=list)
    latest: str = ""


def _droid_rows(answer: Any) -> list[tuple[str, float]]:
    """Each row's label and top score from an answer of the droids' routes."""
    return [(label, max(scores.values())) for label, scores in zip(answer["prediction"], answer["scores"], strict=True)]


def _protocol_rows(answer: Any, labels: list[str]) -> list[tuple[str, float]]:
    """Each row's label and top score from an inference response: its probabilities, its classification strings
    (best first), or its labels alone (top score unknown: NaN)."""
    outputs = {output["name"]: output for output in answer["outputs"]}
    probabilities = outputs.get("probabilities")
    if probabilities is not None and probabilities["datatype"] != "BYTES":
        scores = np.reshape(np.asarray(probabilities["data"], dtype=np.float64), probabilities["shape"])
        return [(labels[index], float(row[index])) for row, index in zip(scores, scores.argmax(axis=1), strict=True)]
    if probabilities is not None:
        rows, count = probabilities["shape"]
        best = probabilities["data"][::count]
        return [(text.split(":", 2)[2], float(text.split(":", 1)[0])) for text in best[:rows]]
    return [(label, math.nan) for label in outputs["label"]["data"]]


def _output_rows(data: str, labels: list[str]) -> list[tuple[str, float]]:
    answer = json.loads(data)
    return _droid_rows(answer) if "prediction" in answer else _protocol_rows(answer, labels)


def _read_record(record: Any, shadowed: dict[tuple[str, str, str], _Shadowed]) -> None:
    shadow = record.get("eventMetadata", {}).get("shadow")
    if shadow is None:
        return
    key = (shadow["model"], shadow["championVersion"], shadow["challengerVersion"])
    found = shadowed[key]
    found.latest = max(found.latest, record["eventMetadata"].get("inferenceTime", ""))
    if shadow["outcome"] == "skipped":
        found.skipped += 1
        return
    found.milliseconds.append(float(shadow["shadowMs"]))
    if shadow["outcome"] != "scored":
        found.errors += 1
        return
    found.scored += 1
    challenger_answer = json.loads(record["captureData"][SHADOW_OUTPUT]["data"])
    if not found.labels:
        found.labels = list(challenger_answer["scores"][0])
    challenger = _droid_rows(challenger_answer)
    champion = _output_rows(record["captureData"]["endpointOutput"]["data"], found.labels)
    if len(champion) != len(challenger):
        raise ShadowSourceError(f"{len(champion)} rows answered, {len(challenger)} shadowed")
    found.rows += [(a, a_score, b, b_score) for (a, a_score), (b, b_score) in zip(champion, challenger, strict=True)]


def _percentiles(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    p50, p99 = np.percentile(values, [50, 99])
    return float(p50), float(p99)


def from_captures(location: str, client: Any = None) -> list[ShadowFigures]:
    """Per model, the figures of the shadowed requests among the capture records at location; when a model was
    shadowed by several challengers, those of the latest."""
    shadowed: dict[tuple[str, str, str], _Shadowed] = defaultdict(_Shadowed)
    for where, text in capture_files(location, client):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                _read_record(json.loads(line), shadowed)
            except (ValueError, KeyError, TypeError, IndexError, AttributeError) as error:
                raise ShadowSourceError(
                    f"{where} line {number}: not a capture record the service writes ({error})"
                ) from None
    latest: dict[str, tuple[str, str, str]] = {}
    for key, found in shadowed.items():
        if key[0] not in latest or found.latest > shadowed[latest[key[0]]].latest:
            latest[key[0]] = key
    if not latest:
        raise ShadowSourceError(f"no shadowed request in the capture records at {location}")
    return [_capture_figures(key, shadowed[key], location) for key in sorted(latest.values())]


def _capture_figures(key: tuple[str, str, str], found: _Shadowed, location: str) -> ShadowFigures:
    model, champion_version, challenger_version = key
    labels = tuple(found.labels) or tuple(sorted({row[0] for row in found.rows}))
    index = {label: position for position, label in enumerate(labels)}
    pairs = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for champion, _, challenger, _ in found.rows:
        pairs[index[champion], index[challenger]] += 1
    scored = [(row[1], row[3]) for row in found.rows if not math.isnan(row[1])]
    return ShadowFigures(
        model=model,
        champion_version=champion_version,
        challenger_version=challenger_version,
        labels=labels,
        pairs=pairs,
        requests=found.scored,
        errors=found.errors,
        skipped=found.skipped,
        champion_top_scores=np.array([first for first, _ in scored]),
        challenger_top_scores=np.array([second for _, second in scored]),
        added_ms=_percentiles(found.milliseconds),
        source=f"capture records at {location}",
    )


@dataclass(frozen=True)
class MetricsWindow:
    """Where and when to read the shadow's metrics: the namespace and service the functions write them under."""

    namespace: str
    service: str
    start: datetime
    end: datetime

    def described(self) -> str:
        return f"CloudWatch {self.namespace} from {self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC"

    @property
    def period(self) -> int:
        """The whole window as one period (CloudWatch takes multiples of 60 seconds)."""
        return max(60, math.ceil((self.end - self.start).total_seconds() / 60) * 60)


def _statistics(client: Any, window: MetricsWindow, metric: str, dimensions: dict[str, str], **asked: Any) -> Any:
    """The metric's datapoints over the whole window as one period, with the statistics asked for."""
    return client.get_metric_statistics(
        Namespace=window.namespace,
        MetricName=metric,
        Dimensions=[{"Name": name, "Value": value} for name, value in dimensions.items()],
        StartTime=window.start,
        EndTime=window.end,
        Period=window.period,
        **asked,
    )["Datapoints"]


def _total(client: Any, window: MetricsWindow, metric: str, dimensions: dict[str, str]) -> float:
    return float(sum(point["Sum"] for point in _statistics(client, window, metric, dimensions, Statistics=["Sum"])))


def _added_ms(client: Any, window: MetricsWindow, dimensions: dict[str, str]) -> tuple[float | None, float | None]:
    datapoints = _statistics(client, window, SHADOW_MS, dimensions, ExtendedStatistics=["p50", "p99"])
    points = [point.get("ExtendedStatistics", {}) for point in datapoints]
    found = [point for point in points if "p50" in point and "p99" in point]
    if len(found) != 1:
        return None, None
    return float(found[0]["p50"]), float(found[0]["p99"])


def _listed(client: Any, window: MetricsWindow, metric: str) -> Iterable[dict[str, str]]:
    """Each set of dimensions the metric has, once, for the service."""
    seen = set()
    for page in client.get_paginator("list_metrics").paginate(Namespace=window.namespace, MetricName=metric):
        for listed in page["Metrics"]:
            dimensions = {item["Name"]: item["Value"] for item in listed["Dimensions"]}
            key = frozenset(dimensions.items())
            if dimensions.get("service") == window.service and key not in seen:
                seen.add(key)
                yield dimensions


def from_cloudwatch(client: Any, window: MetricsWindow, manifest: Manifest) -> list[ShadowFigures]:
    """Per model with a challenger in manifest (the build deployed), the figures of its shadow metrics in the window:
    the pairs of labels, requests, errors and skips (summed), the added time's p50 and p99; no scores."""
    figures = []
    models = {dimensions["model"] for dimensions in _listed(client, window, SHADOW_REQUESTS)}
    for model in sorted(models & set(manifest.challengers)):
        labels = manifest.labels
        index = {label: position for position, label in enumerate(labels)}
        pairs = np.zeros((len(labels), len(labels)), dtype=np.int64)
        for metric in (SHADOW_AGREED_ROWS, SHADOW_FLIPS):
            for dimensions in _listed(client, window, metric):
                if dimensions.get("model") != model or CHAMPION_LABEL not in dimensions:
                    continue
                cell = index[dimensions[CHAMPION_LABEL]], index[dimensions[CHALLENGER_LABEL]]
                pairs[cell] += round(_total(client, window, metric, dimensions))
        by_model = {"service": window.service, "model": model}
        requests, errors, skipped = (
            round(_total(client, window, metric, by_model))
            for metric in (SHADOW_REQUESTS, SHADOW_ERRORS, SHADOW_SKIPPED)
        )
        figures.append(
            ShadowFigures(
                model=model,
                champion_version=manifest.models[model].sha256[:12],
                challenger_version=manifest.challengers[model].sha256[:12],
                labels=labels,
                pairs=pairs,
                requests=requests - errors - skipped,
                errors=errors,
                skipped=skipped,
                champion_top_scores=np.array([]),
                challenger_top_scores=np.array([]),
                added_ms=_added_ms(client, window, by_model),
                source=window.described(),
            )
        )
    if not figures:
        raise ShadowSourceError(
            f"no shadow metrics in {window.namespace} for the models with a challenger "
            f"({', '.join(manifest.challengers) or 'none in the manifest'}) from {window.start.isoformat()}"
        )
    return figures


__all__ = ["CaptureError", "MetricsWindow", "ShadowSourceError", "from_captures", "from_cloudwatch"]
