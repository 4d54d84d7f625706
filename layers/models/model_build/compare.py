"""The offline comparison of a challenger with the champion it may replace, on the same evaluation rows: both
models' headline figures, the paired difference in accuracy with a seeded bootstrap interval, McNemar's exact test
on the rows where they disagree, the per-label flips; and the non-inferiority rule of challenger_gate.toml's
[offline] table that refuses a challenger worse than its champion."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from kyber.manifest import ModelEntry
from model_build.contract import ModelsLayerError
from model_build.evaluation import measure
from model_build.gate import read_thresholds

CHALLENGER_GATE_FILE = Path(__file__).resolve().parent.parent / "challenger_gate.toml"
OFFLINE_TABLE = "offline"
# The bootstrap's seed: the same models and rows give the same interval, hence the same card and manifest.
BOOTSTRAP_SEED = 20_230_117
MIN_RESAMPLES = 1_000


class ChallengerGateError(ModelsLayerError):
    """A challenger is worse than its champion by more than the gate allows, is the champion itself, or the
    challenger gate's file is not usable."""


@dataclass(frozen=True)
class OfflineRule:
    """Non-inferiority: the lower bound of the paired accuracy difference's interval at this confidence, from this
    many bootstrap resamples, may be at most margin below zero."""

    margin: float
    confidence: float
    resamples: int
    source: Path

    @classmethod
    def read(cls, path: Path = CHALLENGER_GATE_FILE) -> OfflineRule:
        document = read_thresholds(
            path,
            ("margin", "confidence", "resamples"),
            "challenger gate",
            lambda value: value >= 0,
            "a number of at least 0",
            ChallengerGateError,
            table=OFFLINE_TABLE,
        )
        where = f"{path} [{OFFLINE_TABLE}]"
        margin, confidence, resamples = document["margin"], document["confidence"], document["resamples"]
        if not margin < 1:
            raise ChallengerGateError(f"{where}: margin must be a number from 0 to 1, not {margin!r}")
        if not 0 < confidence < 1:
            raise ChallengerGateError(f"{where}: confidence must be a number between 0 and 1, not {confidence!r}")
        if not isinstance(resamples, int) or resamples < MIN_RESAMPLES:
            raise ChallengerGateError(
                f"{where}: resamples must be a whole number of at least {MIN_RESAMPLES:,}, not {resamples!r}"
            )
        return cls(float(margin), float(confidence), resamples, path)

    def check(self, comparison: Comparison) -> None:
        """A ChallengerGateError naming both accuracies, the interval's lower bound and the margin, when the
        challenger may be worse than the margin allows."""
        lower = comparison.interval.lower
        if not lower >= -self.margin:
            champion, challenger = comparison.champion, comparison.challenger
            raise ChallengerGateError(
                f"challenger gate: challenger {comparison.model} has accuracy {challenger.accuracy:.4f}, the "
                f"champion {champion.accuracy:.4f} on {comparison.rows} evaluation rows: the lower bound of the "
                f"{self.confidence:.0%} interval of their difference is {lower:+.4f}, below the margin "
                f"-{self.margin:.4f} set in {self.source.name}"
            )


@dataclass(frozen=True)
class Standing:
    """One model's headline figures on the evaluation rows."""

    version: str
    accuracy: float
    lowest_recall: float
    lowest_recall_label: str
    log_loss: float


@dataclass(frozen=True)
class Interval:
    """A percentile bootstrap interval of the challenger's accuracy minus the champion's, over paired rows."""

    confidence: float
    lower: float
    upper: float
    resamples: int
    seed: int


@dataclass(frozen=True)
class LabelFlips:
    """One true label's rows by who names them right: both, only the challenger (fixed), only the champion
    (broken), neither."""

    label: str
    both_right: int
    fixed: int
    broken: int
    both_wrong: int


@dataclass(frozen=True)
class Comparison:
    """The champion and the challenger on the same rows: the difference is the challenger's accuracy minus the
    champion's; disagreements counts the rows they name differently, right or wrong."""

    model: str
    rows: int
    champion: Standing
    challenger: Standing
    accuracy_difference: float
    interval: Interval
    fixed: int
    broken: int
    disagreements: int
    mcnemar_p: float
    flips: tuple[LabelFlips, ...]

    def summary(self) -> str:
        interval = self.interval
        return (
            f"accuracy {self.challenger.accuracy:.4f}, the champion {self.champion.accuracy:.4f}: difference "
            f"{self.accuracy_difference:+.4f}, {interval.confidence:.0%} interval {interval.lower:+.4f} to "
            f"{interval.upper:+.4f}; {self.fixed} fixed, {self.broken} broken (McNemar exact p {self.mcnemar_p:.3f})"
        )


def standing(version: str, scores: np.ndarray, target: np.ndarray, labels: tuple[str, ...]) -> Standing:
    metrics = measure(scores, target, labels)
    lowest = metrics.lowest_recall
    return Standing(version, metrics.accuracy, lowest.recall, lowest.label, metrics.log_loss)


def bootstrap_interval(fixed: int, broken: int, rows: int, confidence: float, resamples: int) -> Interval:
    """The interval of the mean paired difference (+1 fixed, -1 broken, 0 otherwise) over resamples of the rows.
    Resampling rows with replacement draws each kind of row a multinomial number of times, which is drawn
    directly: the same distribution as indexing rows, in memory that does not grow with them."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    shares = [fixed / rows, broken / rows, (rows - fixed - broken) / rows]
    counts = rng.multinomial(rows, shares, size=resamples)
    differences = (counts[:, 0] - counts[:, 1]) / rows
    tail = (1 - confidence) / 2
    lower, upper = np.quantile(differences, [tail, 1 - tail])
    return Interval(confidence, float(lower), float(upper), resamples, BOOTSTRAP_SEED)


def mcnemar_exact_p(fixed: int, broken: int) -> float:
    """McNemar's exact test: under no difference, each disagreement that matters is a fair coin's toss."""
    if fixed + broken == 0:
        return 1.0
    return float(stats.binomtest(fixed, fixed + broken, 0.5).pvalue)


def compare(
    model: str,
    target: np.ndarray,
    labels: tuple[str, ...],
    champion: tuple[str, np.ndarray],
    challenger: tuple[str, np.ndarray],
    rule: OfflineRule,
) -> Comparison:
    """The comparison of two models' scores (rows x labels) for the same rows, each given with its version."""
    (champion_version, champion_scores), (challenger_version, challenger_scores) = champion, challenger
    if champion_scores.shape != challenger_scores.shape or len(champion_scores) != len(target):
        raise ValueError(
            f"scores of shape {champion_scores.shape} and {challenger_scores.shape} for {len(target)} rows"
        )
    champion_named, challenger_named = champion_scores.argmax(axis=1), challenger_scores.argmax(axis=1)
    champion_right, challenger_right = champion_named == target, challenger_named == target
    fixed_rows, broken_rows = challenger_right & ~champion_right, champion_right & ~challenger_right
    fixed, broken, rows = int(fixed_rows.sum()), int(broken_rows.sum()), len(target)
    return Comparison(
        model=model,
        rows=rows,
        champion=standing(champion_version, champion_scores, target, labels),
        challenger=standing(challenger_version, challenger_scores, target, labels),
        accuracy_difference=(fixed - broken) / rows,
        interval=bootstrap_interval(fixed, broken, rows, rule.confidence, rule.resamples),
        fixed=fixed,
        broken=broken,
        disagreements=int((champion_named != challenger_named).sum()),
        mcnemar_p=mcnemar_exact_p(fixed, broken),
        flips=tuple(
            LabelFlips(
                label,
                both_right=int((champion_right & challenger_right)[target == index].sum()),
                fixed=int(fixed_rows[target == index].sum()),
                broken=int(broken_rows[target == index].sum()),
                both_wrong=int((~champion_right & ~challenger_right)[target == index].sum()),
            )
            for index, label in enumerate(labels)
        ),
    )


def check_distinct(model: str, champion: ModelEntry, challenger: ModelEntry) -> None:
    """A challenger that is its champion (the same served file, or exported from the same source file) compares
    nothing: refused, naming what is the same."""
    for what, champion_sha, challenger_sha in (
        ("served ONNX file", champion.sha256, challenger.sha256),
        (f"source file ({challenger.source.file})", champion.source.sha256, challenger.source.sha256),
    ):
        if champion_sha == challenger_sha:
            raise ChallengerGateError(
                f"challenger gate: challenger {model} is the champion itself: the same {what}, sha256 "
                f"{challenger_sha[:12]}; deliver another model, or none"
            )


def rows_for_margin(margin: float, disagreement_rate: float, confidence: float) -> int:
    """How many evaluation rows make the interval's half-width at most margin, for two equally good models of which
    exactly one is right on this share of the rows (the flips): the paired difference's variance per row is that
    share less the squared difference, and the difference is zero."""
    z = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    return math.ceil(disagreement_rate * (z / margin) ** 2)
