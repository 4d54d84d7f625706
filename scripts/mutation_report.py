"""Mutants, killed, survived and the score per file of the shared layer, from mutmut's results.

Run by scripts/mutation.sh in the folder mutmut ran in; reads mutants/src/kyber/*.py.meta. A mutant
counts as killed when a test failed or timed out with it; the score is killed / (killed + survived
without an explanation). Mutants a run stopped by MUTATION_TIMEOUT did not reach count as unchecked.
Survivors listed in tests/mutation_survivors.txt with a reason are shown apart.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

KILLED = {1, 3, 36, -24, 24, 152, 255}  # a test failed, or the mutant hung until the timeout
SURVIVED = 0
EXPLAINED = Path(__file__).resolve().parent.parent / "tests" / "mutation_survivors.txt"


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


def main() -> None:
    explained = explained_survivors()
    totals: Counter[str] = Counter()
    survivors: list[str] = []
    print(f"{'file':<28} {'mutants':>8} {'killed':>7} {'survived':>9} {'explained':>10} {'unchecked':>10} {'score':>7}")
    for meta in sorted(Path("mutants/src/kyber").glob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        counts = Counter()
        for name, code in codes.items():
            if code in KILLED:
                counts["killed"] += 1
            elif code == SURVIVED:
                counts["explained" if name in explained else "survived"] += 1
                if name not in explained:
                    survivors.append(name)
            elif code is None:
                counts["unchecked"] += 1
            counts["mutants"] += 1
        totals.update(counts)
        print(row(meta.name.removesuffix(".meta"), counts))
    print(row("all", totals))
    for name in survivors:
        print(f"  survived: {name}")


def row(name: str, counts: Counter[str]) -> str:
    checked = counts["killed"] + counts["survived"]
    score = 100 * counts["killed"] / checked if checked else 0.0
    return (
        f"{name:<28} {counts['mutants']:>8} {counts['killed']:>7} {counts['survived']:>9} "
        f"{counts['explained']:>10} {counts['unchecked']:>10} {score:>6.1f}%"
    )


if __name__ == "__main__":
    main()
