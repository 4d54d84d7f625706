"""A model's challenger in the champion's shadow: on a share of the requests, picked from their request id (the same
request is picked by every execution environment), the challenger scores the rows the champion answered, after
the answer is built; whatever it does (raise, return non-finite scores, or find too little time left) is counted
and logged, and the answer is the champion's alone.

Its figures are embedded-metric-format lines on stdout, laid out once at init as the model figures are
(kyber.monitoring): per picked request, ShadowRequests with ShadowRows, ShadowAgreedRows, ShadowErrors and
ShadowMs (the time the shadow added), or ShadowSkipped; and per pair of labels the two models gave rows,
ShadowAgreedRows (the same label) or ShadowFlips (another), by champion_label and challenger_label.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from kyber.errors import ModelFailureError
from kyber.invocation import lambda_request_id, remaining_ms
from kyber.monitoring import json_fields
from kyber.observability import elapsed_ms, logger, metric_lines_enabled
from kyber.proxy_event import ProxyEvent
from kyber.registry import CrystalModel
from kyber.scores_json import prediction_json

SHADOW_REQUESTS = "ShadowRequests"
SHADOW_ROWS = "ShadowRows"
SHADOW_AGREED_ROWS = "ShadowAgreedRows"
SHADOW_FLIPS = "ShadowFlips"
SHADOW_ERRORS = "ShadowErrors"
SHADOW_SKIPPED = "ShadowSkipped"
SHADOW_MS = "ShadowMs"
# The dimensions of the flip matrix's cells.
CHAMPION_LABEL = "champion_label"
CHALLENGER_LABEL = "challenger_label"


def request_id_of(event: ProxyEvent) -> str:
    """API Gateway's id of the request (the capture record's eventId); Lambda's when the event has none."""
    context = event.get("requestContext")
    found = context.get("requestId") if isinstance(context, dict) else None
    return found if isinstance(found, str) and found else lambda_request_id()


def draw(request_id: str) -> float:
    """Where a request id falls in [0, 100): a hash, so that a request is picked or not wherever it is answered."""
    digest = hashlib.blake2b(request_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 * 100


@dataclass(frozen=True)
class ShadowOutcome:
    """What the challenger made of one request: "scored" (with its scores), "failed" or "skipped"."""

    model: str
    champion_version: str
    challenger: CrystalModel
    outcome: str
    milliseconds: float
    probabilities: np.ndarray | None = None
    top: np.ndarray | None = None

    def answer(self) -> str | None:
        """The challenger's scores as the droids' answer writes them; None when it has none."""
        if self.probabilities is None:
            return None
        return prediction_json(self.challenger.labels, self.probabilities, self.top)

    def metadata(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "championVersion": self.champion_version,
            "challengerVersion": self.challenger.version,
            "outcome": self.outcome,
            "shadowMs": self.milliseconds,
        }


def _line(namespace: str, dimensions: Mapping[str, str], metrics: tuple[tuple[str, str, str], ...]) -> str:
    """One EMF line as a %-format: a slot per metric (its format given), then the timestamp's."""
    directive = {
        "Namespace": namespace,
        "Dimensions": [list(dimensions)],
        "Metrics": [{"Name": name, "Unit": unit} for name, unit, _ in metrics],
    }
    figures = "".join(f',"{name}":{slot}' for name, _, slot in metrics)
    directive_text = json_fields({"CloudWatchMetrics": [directive]})
    return f'{{{json_fields(dimensions)}{figures},"_aws":{{{directive_text},"Timestamp":%d}}}}\n'


@dataclass(frozen=True)
class Shadow:
    """One model's champion and challenger, the share of requests the challenger scores, and their lines."""

    champion: CrystalModel
    challenger: CrystalModel
    percent: float
    min_remaining_ms: int
    ran_line: str
    skipped_line: str
    # pair_lines[i][j]: the line of the rows the champion gave label i and the challenger label j.
    pair_lines: tuple[tuple[str, ...], ...]
    # Off as Powertools' metrics are (kyber.observability.metric_lines_enabled); the shadow still runs and is captured.
    metrics_enabled: bool = True

    @classmethod
    def create(
        cls,
        *,
        namespace: str,
        service: str,
        champion: CrystalModel,
        challenger: CrystalModel,
        percent: float,
        min_remaining_ms: int,
    ) -> Shadow:
        model = {"service": service, "model": champion.name}
        ran = (
            (SHADOW_REQUESTS, "Count", "1"),
            (SHADOW_ROWS, "Count", "%d"),
            (SHADOW_AGREED_ROWS, "Count", "%d"),
            (SHADOW_ERRORS, "Count", "%d"),
            (SHADOW_MS, "Milliseconds", "%s"),
        )
        skipped = ((SHADOW_REQUESTS, "Count", "1"), (SHADOW_SKIPPED, "Count", "1"))
        pair_lines = tuple(
            tuple(
                _line(
                    namespace,
                    {**model, CHAMPION_LABEL: first, CHALLENGER_LABEL: second},
                    ((SHADOW_AGREED_ROWS if first == second else SHADOW_FLIPS, "Count", "%d"),),
                )
                for second in challenger.labels
            )
            for first in champion.labels
        )
        return cls(
            champion=champion,
            challenger=challenger,
            percent=percent,
            min_remaining_ms=min_remaining_ms,
            ran_line=_line(namespace, model, ran),
            skipped_line=_line(namespace, model, skipped),
            pair_lines=pair_lines,
            metrics_enabled=metric_lines_enabled(),
        )

    def picks(self, request_id: str) -> bool:
        return self.percent > 0 and draw(request_id) < self.percent

    def run(self, batch: np.ndarray, champion_scores: np.ndarray) -> ShadowOutcome:
        """The challenger's scores of the batch the champion answered, its figures written; never raises."""
        started = time.perf_counter()
        outcome = "scored"
        probabilities = top = None
        try:
            left = remaining_ms()
            if left is not None and left < self.min_remaining_ms:
                outcome = "skipped"
                logger.info("challenger skipped: too little time left", model=self.champion.name, remaining_ms=left)
                self._emit(self.skipped_line % int(time.time() * 1000))
            else:
                probabilities, top = self._scores(batch)
                self._write(champion_scores.argmax(axis=1), top, elapsed_ms(started, digits=3))
        except Exception:
            outcome, probabilities, top = "failed", None, None
            logger.warning("challenger failed", model=self.champion.name, exc_info=True)
            self._write_failure(elapsed_ms(started, digits=3))
        return ShadowOutcome(
            model=self.champion.name,
            champion_version=self.champion.version,
            challenger=self.challenger,
            outcome=outcome,
            milliseconds=elapsed_ms(started, digits=3),
            probabilities=probabilities,
            top=top,
        )

    def _scores(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores = self.challenger.score(batch)
        if scores.unscorable_rows.size:
            raise ModelFailureError(
                f"challenger of {self.champion.name} has no finite scores for {scores.unscorable_rows.size} rows"
            )
        return scores.probabilities, scores.probabilities.argmax(axis=1)

    def _write(self, champion_top: np.ndarray, challenger_top: np.ndarray, milliseconds: float) -> None:
        width = len(self.challenger.labels)
        pairs = np.bincount(champion_top * width + challenger_top, minlength=len(self.champion.labels) * width)
        timestamp = int(time.time() * 1000)
        agreed = int(np.trace(pairs.reshape(-1, width)))
        lines = [self.ran_line % (len(champion_top), agreed, 0, repr(milliseconds), timestamp)]
        for cell in np.flatnonzero(pairs).tolist():
            lines.append(self.pair_lines[cell // width][cell % width] % (pairs[cell], timestamp))
        self._emit("".join(lines))

    def _write_failure(self, milliseconds: float) -> None:
        try:
            self._emit(self.ran_line % (0, 0, 1, repr(milliseconds), int(time.time() * 1000)))
        except Exception:  # the answer is written whatever happens to the shadow's figures
            logger.warning("shadow figures not written", model=self.champion.name, exc_info=True)

    def _emit(self, lines: str) -> None:
        if self.metrics_enabled:
            sys.stdout.write(lines)
