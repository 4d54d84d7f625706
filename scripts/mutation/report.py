"""Mutants, killed, survived and the score per file of the shared layer, from mutmut's results.

Run by scripts/mutation/run.sh in the folder mutmut ran in; reads mutants/src/kyber/*.py.meta. A mutant
is killed when a test failed with it; one no test runs is a survivor. One stopped at mutmut's CPU-time
limit is a timeout: a mutant that hangs, or only one whose tests ran longer than the limit, so it is
shown apart, and the score
is killed / (killed + timeouts + survivors without an explanation); the last column also counts
timeouts as killed, as mutmut does. Survivors listed in survivors.txt (beside this file) with a reason
are shown apart; mutants a run stopped by MUTATION_TIMEOUT did not reach are unchecked. An explanation is
stale when no mutant has its name (its function was renamed, moved or removed) or a test kills its mutant:
the report names it and fails, so that the list cannot rot.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

KILLED = {1, 3}  # a test failed (3: pytest's internal error)
TIMED_OUT = {36, -24, 24, 152, 255}  # stopped at the CPU-time limit: a hang, or only slower tests
SURVIVED = 0
NO_TESTS = {5, 33}  # no test runs the mutated function: a survivor too
EXPLAINED = Path(__file__).with_name("survivors.txt")


def explained_survivors() -> dict[str, str]:
    """mutant name -> why it cannot change behaviour, from the committed list."""
    if not EXPLAINED.is_file():
        return {}
    reasons = {}
    for line in EXPLAINED.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition(" ")
            reasons[name] = reason.strip()
    return reasons


def main(strict: bool) -> None:
    """Exit 1 on a stale explanation; with strict, also unless some mutant was checked and every survivor
    is explained."""
    explained = explained_survivors()
    totals: Counter[str] = Counter()
    codes: dict[str, int | None] = {}
    print(
        f"{'file':<30} {'mutants':>8} {'killed':>7} {'timeout':>8} {'survived':>9} {'explained':>10} "
        f"{'unchecked':>10} {'score':>7} {'with timeouts':>14}"
    )
    for meta in sorted(Path("mutants/src/kyber").rglob("*.py.meta")):
        file_codes = json.loads(meta.read_text())["exit_code_by_key"]
        codes.update(file_codes)
        counts = tally(file_codes, explained)
        totals.update(counts)
        print(row(str(meta.relative_to("mutants/src/kyber")).removesuffix(".meta"), counts))
    print(row("all", totals))
    survivors = [
        name for name, code in codes.items() if (code == SURVIVED or code in NO_TESTS) and name not in explained
    ]
    for name in survivors:
        print(f"  survived: {name}{' (no test runs it)' if codes[name] in NO_TESTS else ''}")
    stale = stale_explanations(explained, codes)
    for name, why in stale.items():
        print(f"  stale explanation in {EXPLAINED.name}: {name} ({why})")
    checked = totals["mutants"] - totals["unchecked"]
    if stale:
        sys.exit(f"mutation: {len(stale)} stale explanation(s) in {EXPLAINED.name}; remove them")
    if strict and (not checked or survivors):
        sys.exit(f"mutation: {checked} mutants checked, {len(survivors)} survived unexplained")


def tally(codes: dict[str, int | None], explained: dict[str, str]) -> Counter[str]:
    """One file's mutants by outcome, from mutmut's exit code of each."""
    counts: Counter[str] = Counter(mutants=len(codes))
    for name, code in codes.items():
        if code in KILLED:
            counts["killed"] += 1
        elif code in TIMED_OUT:
            counts["timeout"] += 1
        elif code == SURVIVED or code in NO_TESTS:
            counts["explained" if name in explained else "survived"] += 1
        elif code is None:
            counts["unchecked"] += 1
    return counts


def stale_explanations(explained: dict[str, str], codes: dict[str, int | None]) -> dict[str, str]:
    """Explained mutant -> why its explanation is stale: no mutant has its name, or a test kills it."""
    stale = {name: "no such mutant" for name in explained if name not in codes}
    stale.update((name, "a test kills it") for name in explained if codes.get(name) in KILLED)
    return stale


def row(name: str, counts: Counter[str]) -> str:
    """score: killed by a failing test / decided; with timeouts: counting them as killed too."""
    decided = counts["killed"] + counts["timeout"] + counts["survived"]
    score = 100 * counts["killed"] / decided if decided else 0.0
    with_timeouts = 100 * (counts["killed"] + counts["timeout"]) / decided if decided else 0.0
    return (
        f"{name:<30} {counts['mutants']:>8} {counts['killed']:>7} {counts['timeout']:>8} {counts['survived']:>9} "
        f"{counts['explained']:>10} {counts['unchecked']:>10} {score:>6.1f}% {with_timeouts:>13.1f}%"
    )


if __name__ == "__main__":
    main(strict="--strict" in sys.argv[1:])
