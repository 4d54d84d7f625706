"""The offline comparison of a challenger with its champion: the paired figures, the seeded bootstrap interval,
McNemar's exact test, the flips per label, and the non-inferiority rule of challenger_gate.toml that refuses a
challenger clearly worse than its champion while letting one as good through."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from kyber.manifest import FileRef
from model_build.compare import (
    BOOTSTRAP_SEED,
    CHALLENGER_GATE_FILE,
    MIN_RESAMPLES,
    ChallengerGateError,
    OfflineRule,
    bootstrap_interval,
    check_distinct,
    compare,
    mcnemar_exact_p,
    rows_for_margin,
)
from model_build.training import split_iris, train_logistic_regression
from tests.support.challenger_deliveries import as_good, fitted_on_few_rows

LABELS = ("blue", "green", "yellow")


def one_hot(named: list[int]) -> np.ndarray:
    """Scores that name these labels, one row each."""
    scores = np.full((len(named), len(LABELS)), 0.1)
    scores[np.arange(len(named)), named] = 0.8
    return scores


def paired(fixed: int, broken: int, both_right: int = 40, both_wrong: int = 0) -> tuple[np.ndarray, ...]:
    """The target, the champion's scores and the challenger's for rows of each kind in turn, their true labels
    taken from the labels in turn."""
    kinds = [(False, True)] * fixed + [(True, False)] * broken + [(True, True)] * both_right
    kinds += [(False, False)] * both_wrong
    target = np.arange(len(kinds)) % len(LABELS)
    pairs = list(zip(target.tolist(), kinds, strict=True))
    champion, challenger = (
        one_hot([label if right[side] else (label + 1) % len(LABELS) for label, right in pairs]) for side in (0, 1)
    )
    return target, champion, challenger


def compared(fixed: int, broken: int, rule: OfflineRule | None = None, **more: int):
    target, champion, challenger = paired(fixed, broken, **more)
    rule = rule or OfflineRule.read()
    return compare("sklearn", target, LABELS, ("c0ffee000000", champion), ("beef00000000", challenger), rule)


def test_the_gate_file_holds_the_offline_rule_the_build_applies():
    rule = OfflineRule.read()
    assert (rule.margin, rule.confidence, rule.resamples) == (0.10, 0.95, 10_000)
    assert rule.source == CHALLENGER_GATE_FILE


def test_a_challenger_naming_every_row_as_the_champion_does_differs_by_nothing_with_certainty():
    comparison = compared(fixed=0, broken=0)
    assert comparison.accuracy_difference == 0.0
    assert (comparison.interval.lower, comparison.interval.upper) == (0.0, 0.0)
    assert (comparison.disagreements, comparison.mcnemar_p) == (0, 1.0)
    OfflineRule.read().check(comparison)


def test_the_figures_of_both_models_stand_side_by_side_with_their_versions():
    comparison = compared(fixed=1, broken=3, both_right=38, both_wrong=3)
    assert (comparison.rows, comparison.fixed, comparison.broken, comparison.disagreements) == (45, 1, 3, 4)
    assert comparison.champion.version == "c0ffee000000"
    assert comparison.champion.accuracy == pytest.approx(41 / 45)
    assert comparison.challenger.accuracy == pytest.approx(39 / 45)
    assert comparison.accuracy_difference == pytest.approx(-2 / 45)
    # The champion misses two blue rows (the fixed one and a wrong one), one green and one yellow; the challenger
    # two of each label
    assert (comparison.champion.lowest_recall_label, comparison.champion.lowest_recall) == ("blue", 13 / 15)
    assert comparison.challenger.lowest_recall == 13 / 15
    assert comparison.challenger.log_loss > comparison.champion.log_loss > 0


def test_the_flip_table_counts_each_true_labels_rows_by_which_model_names_them_right():
    # Given blue rows one of each kind, a green row only the challenger gets right and a yellow one both miss
    target = np.array([0, 0, 0, 0, 1, 2])
    champion = one_hot([0, 0, 1, 2, 0, 0])
    challenger = one_hot([0, 1, 0, 2, 1, 1])
    comparison = compare("pytorch", target, LABELS, ("a" * 12, champion), ("b" * 12, challenger), OfflineRule.read())
    table = {flips.label: (flips.both_right, flips.fixed, flips.broken, flips.both_wrong) for flips in comparison.flips}
    assert table == {"blue": (1, 1, 1, 1), "green": (0, 1, 0, 0), "yellow": (0, 0, 0, 1)}
    # Rows both name wrongly but differently count as disagreements, not as flips
    assert (comparison.fixed, comparison.broken, comparison.disagreements) == (2, 1, 4)


def test_mcnemar_is_the_exact_two_sided_binomial_test_of_the_flips():
    assert mcnemar_exact_p(0, 6) == pytest.approx(2 * 0.5**6)
    assert mcnemar_exact_p(3, 3) == 1.0
    assert mcnemar_exact_p(1, 9) == pytest.approx(2 * (1 + 10) / 2**10)


def test_the_bootstrap_is_seeded_so_the_same_rows_give_the_same_interval():
    assert bootstrap_interval(2, 5, 45, 0.95, 10_000) == bootstrap_interval(2, 5, 45, 0.95, 10_000)
    assert bootstrap_interval(2, 5, 45, 0.95, 10_000).seed == BOOTSTRAP_SEED


def test_the_bootstrap_interval_is_that_of_resampling_the_rows_themselves():
    # Given 45 paired rows, 2 fixed and 5 broken, resampled row by row with replacement
    differences = np.array([1] * 2 + [-1] * 5 + [0] * 38) / 45
    rng = np.random.default_rng(1)
    means = differences[rng.integers(0, 45, size=(40_000, 45))].sum(axis=1)
    lower, upper = np.quantile(means, [0.025, 0.975])
    # Then the interval drawn from the counts is the same within one row's worth
    interval = bootstrap_interval(2, 5, 45, 0.95, 40_000)
    assert interval.lower == pytest.approx(lower, abs=1 / 45)
    assert interval.upper == pytest.approx(upper, abs=1 / 45)
    assert interval.lower < -3 / 45 < interval.upper


@pytest.mark.parametrize(("fixed", "broken"), [(0, 0), (1, 1), (2, 2), (0, 1), (1, 0), (3, 1)])
def test_a_challenger_as_good_as_its_champion_passes_the_default_rule(fixed, broken):
    OfflineRule.read().check(compared(fixed, broken, both_right=45 - fixed - broken - 3, both_wrong=3))


@pytest.mark.parametrize(("fixed", "broken"), [(1, 4), (1, 6), (0, 5), (1, 9)])
def test_a_clearly_worse_challenger_is_refused_naming_both_accuracies_the_bound_and_the_margin(fixed, broken):
    rule = OfflineRule.read()
    comparison = compared(fixed, broken, both_right=45 - fixed - broken - 3, both_wrong=3)
    with pytest.raises(ChallengerGateError) as refused:
        rule.check(comparison)
    lower = comparison.interval.lower
    assert lower < -rule.margin
    assert str(refused.value) == (
        f"challenger gate: challenger sklearn has accuracy {comparison.challenger.accuracy:.4f}, the champion "
        f"{comparison.champion.accuracy:.4f} on 45 evaluation rows: the lower bound of the 95% interval of their "
        f"difference is {lower:+.4f}, below the margin -0.1000 set in challenger_gate.toml"
    )


def test_models_trained_as_good_pass_and_one_fitted_on_five_rows_a_label_is_refused():
    # Given the default champion, a retrain with weaker regularisation, and one fitted on 5 rows per label
    split = split_iris()
    features, target = split.held_out_features, split.held_out_target
    champion = train_logistic_regression(split.training_features, split.training_target).predict_proba(features)
    rule = OfflineRule.read()

    def against_champion(scores: np.ndarray):
        return compare("sklearn", target, LABELS, ("a" * 12, champion), ("b" * 12, scores), rule)

    # When each is compared with it on the evaluation rows, then the first passes and the second is refused
    rule.check(against_champion(as_good().predict_proba(features)))
    worse = against_champion(fitted_on_few_rows().predict_proba(features))
    assert (worse.fixed, worse.broken) == (1, 4)
    with pytest.raises(ChallengerGateError, match=r"has accuracy 0\.8667, the champion 0\.9333"):
        rule.check(worse)


def test_scores_for_other_rows_than_the_target_are_refused():
    target, champion, challenger = paired(1, 1)
    with pytest.raises(ValueError, match="scores of shape"):
        compare("sklearn", target, LABELS, ("a" * 12, champion), ("b" * 12, challenger[:-1]), OfflineRule.read())


def entry_pair(default_build, **change: str):
    champion = default_build[1].models["sklearn"]
    challenger = dataclasses.replace(champion, sha256="f" * 64, source=FileRef("sklearn.model", "e" * 64))
    return champion, dataclasses.replace(challenger, **change)


def test_a_challenger_that_is_its_champions_served_file_is_refused(default_build):
    champion, challenger = entry_pair(default_build)
    challenger = dataclasses.replace(challenger, sha256=champion.sha256)
    with pytest.raises(ChallengerGateError) as refused:
        check_distinct("sklearn", champion, challenger)
    assert str(refused.value) == (
        f"challenger gate: challenger sklearn is the champion itself: the same served ONNX file, sha256 "
        f"{champion.sha256[:12]}; deliver another model, or none"
    )


def test_a_challenger_exported_from_its_champions_source_file_is_refused(default_build):
    champion, challenger = entry_pair(default_build)
    challenger = dataclasses.replace(challenger, source=champion.source)
    with pytest.raises(ChallengerGateError, match=r"the same source file \(sklearn.model\), sha256"):
        check_distinct("sklearn", champion, challenger)


def test_another_model_is_distinct_from_its_champion(default_build):
    check_distinct("sklearn", *entry_pair(default_build))


def write_gate(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "challenger_gate.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[online]\nx = 1\n", "{path} has no [offline] table"),
        ("margin = 0.1\n", "{path} has no [offline] table"),
        (
            "[offline]\nmargin = 0.1\nconfidence = 0.95\n",
            "{path} [offline] must set exactly ['confidence', 'margin', 'resamples'], not ['confidence', 'margin']",
        ),
        (
            "[offline]\nmargin = -0.1\nconfidence = 0.95\nresamples = 10000\n",
            "{path} [offline]: margin must be a number of at least 0, not -0.1",
        ),
        (
            "[offline]\nmargin = 0.1\nconfidence = 1\nresamples = 10000\n",
            "{path} [offline]: confidence must be a number between 0 and 1, not 1",
        ),
        (
            "[offline]\nmargin = 1.5\nconfidence = 0.9\nresamples = 10000\n",
            "{path} [offline]: margin must be a number from 0 to 1, not 1.5",
        ),
        (
            "[offline]\nmargin = 0.1\nconfidence = 0.9\nresamples = 5000.5\n",
            f"{{path}} [offline]: resamples must be a whole number of at least {MIN_RESAMPLES:,}, not 5000.5",
        ),
        (
            "[offline]\nmargin = 0.1\nconfidence = 0.9\nresamples = 10\n",
            f"{{path}} [offline]: resamples must be a whole number of at least {MIN_RESAMPLES:,}, not 10",
        ),
    ],
)
def test_a_gate_file_without_a_usable_offline_table_is_refused_naming_what_is_wrong(tmp_path, text, reason):
    path = write_gate(tmp_path, text)
    with pytest.raises(ChallengerGateError) as refused:
        OfflineRule.read(path)
    assert str(refused.value) == reason.format(path=path)


def test_the_offline_rule_reads_its_own_table_whatever_other_tables_the_file_holds(tmp_path):
    path = write_gate(tmp_path, "[offline]\nmargin = 0\nconfidence = 0.9\nresamples = 2000\n[online]\nrows = 5\n")
    assert OfflineRule.read(path) == OfflineRule(0.0, 0.9, 2000, path)


@pytest.mark.parametrize("rate", [2 / 45, 0.1])
def test_the_rows_a_margin_needs_give_an_interval_that_narrow(rate):
    # Given two equally good models disagreeing on this share of the rows, half each way
    rows = rows_for_margin(0.02, rate, 0.95)
    flips = round(rows * rate / 2)
    # Then on that many rows the bootstrap interval's half-width is the margin, within a tenth
    interval = bootstrap_interval(flips, flips, rows, 0.95, 10_000)
    assert (interval.upper - interval.lower) / 2 == pytest.approx(0.02, rel=0.1)


def test_the_rows_a_margin_needs_grow_with_the_square_of_its_tightness():
    assert rows_for_margin(0.02, 2 / 45, 0.95) == 427
    assert rows_for_margin(0.01, 2 / 45, 0.95) == 1_708
