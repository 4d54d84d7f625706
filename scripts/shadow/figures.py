"""What a challenger did in its champion's shadow, for one model: the rows both scored, as a matrix of champion label
by challenger label, each one's top scores (from captured requests only), the requests it failed or skipped, and the
time it added; and the figures read from them, computed here from their definitions."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Top scores are compared as histograms of this many equal bins over [0, 1].
SCORE_BINS = 10


@dataclass(frozen=True)
class ShadowFigures:
    model: str
    champion_version: str
    challenger_version: str
    labels: tuple[str, ...]
    # pairs[i, j]: rows the champion gave labels[i] and the challenger labels[j].
    pairs: np.ndarray
    # Requests the challenger scored, failed on, and skipped for lack of time.
    requests: int
    errors: int
    skipped: int
    # Each row's top score, by model; empty when the source holds no scores (CloudWatch).
    champion_top_scores: np.ndarray
    challenger_top_scores: np.ndarray
    # The milliseconds the shadow added to a request: (p50, p99), None where the source does not say.
    added_ms: tuple[float | None, float | None]
    source: str

    @property
    def rows(self) -> int:
        return int(self.pairs.sum())

    @property
    def agreement(self) -> float:
        return float(np.trace(self.pairs)) / self.rows if self.rows else math.nan

    @property
    def kappa(self) -> float:
        """Cohen's kappa: the agreement beyond what the two label distributions give by chance."""
        if not self.rows:
            return math.nan
        observed = self.agreement
        chance = float(self.pairs.sum(axis=1) @ self.pairs.sum(axis=0)) / self.rows**2
        return 1.0 if chance == 1 else (observed - chance) / (1 - chance)

    @property
    def label_divergence(self) -> float:
        """The Jensen-Shannon distance (base 2) between the champion's and the challenger's label distributions."""
        return jensen_shannon(self.pairs.sum(axis=1), self.pairs.sum(axis=0))

    @property
    def score_divergence(self) -> float:
        """The Jensen-Shannon distance between the two models' top-score histograms; NaN without scores."""
        if not self.champion_top_scores.size:
            return math.nan
        edges = np.linspace(0, 1, SCORE_BINS + 1)
        return jensen_shannon(
            np.histogram(self.champion_top_scores, edges)[0], np.histogram(self.challenger_top_scores, edges)[0]
        )

    def flips(self) -> dict[str, int]:
        """Each flip (champion label -> challenger label) with its rows, most first."""
        cells = [
            (f"{self.labels[i]} -> {self.labels[j]}", int(self.pairs[i, j]))
            for i in range(len(self.labels))
            for j in range(len(self.labels))
            if i != j and self.pairs[i, j]
        ]
        return dict(sorted(cells, key=lambda cell: -cell[1]))


def jensen_shannon(first: np.ndarray, second: np.ndarray) -> float:
    """The Jensen-Shannon distance, base 2 (0: the same distribution, 1: disjoint), between two count vectors."""
    p, q = (np.asarray(counts, dtype=np.float64) for counts in (first, second))
    if not p.sum() or not q.sum():
        return math.nan
    p, q = p / p.sum(), q / q.sum()
    middle = (p + q) / 2

    def divergence(of: np.ndarray) -> float:
        kept = of > 0
        return float(np.sum(of[kept] * np.log2(of[kept] / middle[kept])))

    return math.sqrt(max(0.0, (divergence(p) + divergence(q)) / 2))
