"""make mutation's report: the figures from mutmut's results, survivors explained or not, and explanations that
went stale (their mutant renamed away, or killed by a test) refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.mutation import report

CODES = {
    "kyber.labels.x_read_labels__mutmut_1": 1,
    "kyber.labels.x_read_labels__mutmut_2": 0,
    "kyber.labels.x_read_labels__mutmut_3": 0,
    "kyber.labels.x_read_labels__mutmut_4": 36,
    "kyber.labels.x_read_labels__mutmut_5": None,
    "kyber.labels.x_read_labels__mutmut_6": 33,
}


@pytest.fixture
def results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder mutmut ran in, holding one file's results, and an empty list of explanations."""
    meta = tmp_path / "mutants" / "src" / "kyber" / "labels.py.meta"
    meta.parent.mkdir(parents=True)
    meta.write_text(json.dumps({"exit_code_by_key": CODES}))
    explained = tmp_path / "survivors.txt"
    explained.write_text("# the survivors that cannot change behaviour\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(report, "EXPLAINED", explained)
    return explained


def explain(explained: Path, *names: str) -> None:
    explained.write_text(explained.read_text() + "".join(f"{name} the reason\n" for name in names))


def test_the_report_counts_each_kind_and_scores_without_and_with_timeouts(results, capsys):
    # Given one survivor explained and one not
    explain(results, "kyber.labels.x_read_labels__mutmut_3")
    # When the report is printed
    report.main(strict=False)
    # Then 1 killed of 4 decided (the explained survivor is apart, the one no test runs is a survivor), 2 of 4
    # counting the timeout
    lines = capsys.readouterr().out.splitlines()
    labels = next(line for line in lines if line.startswith("labels.py"))
    assert labels.split() == ["labels.py", "6", "1", "1", "2", "1", "1", "25.0%", "50.0%"]
    assert "  survived: kyber.labels.x_read_labels__mutmut_2" in lines
    assert "  survived: kyber.labels.x_read_labels__mutmut_6 (no test runs it)" in lines
    assert not any("mutmut_3" in line for line in lines)


def test_strict_fails_while_a_survivor_is_unexplained_and_passes_once_all_are(results):
    with pytest.raises(SystemExit, match="mutation: 5 mutants checked, 3 survived unexplained"):
        report.main(strict=True)
    explain(results, "kyber.labels.x_read_labels__mutmut_2", "kyber.labels.x_read_labels__mutmut_3")
    with pytest.raises(SystemExit, match="mutation: 5 mutants checked, 1 survived unexplained"):
        report.main(strict=True)
    explain(results, "kyber.labels.x_read_labels__mutmut_6")
    report.main(strict=True)


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("kyber.validation.x_value_problem__mutmut_5", "no such mutant"),
        ("kyber.labels.x_read_labels__mutmut_1", "a test kills it"),
    ],
    ids=["renamed away", "killed"],
)
def test_a_stale_explanation_fails_the_report_naming_it(results, capsys, name, why):
    survivors = ("kyber.labels.x_read_labels__mutmut_2", "kyber.labels.x_read_labels__mutmut_3")
    explain(results, *survivors, "kyber.labels.x_read_labels__mutmut_6", name)
    with pytest.raises(SystemExit, match=r"mutation: 1 stale explanation\(s\) in survivors.txt; remove them"):
        report.main(strict=False)
    assert f"  stale explanation in survivors.txt: {name} ({why})" in capsys.readouterr().out.splitlines()
