"""`make report`: both models side by side in one page, their figures as PNG files beside it with captions,
and no report for models the quality gate refuses."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

import model_build.report as model_report
from kyber.manifest import Manifest
from tests.support.challenger_deliveries import as_good, with_challenger


@pytest.fixture(scope="module")
def report(default_artifacts: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model_report.write_report(default_artifacts, tmp_path_factory.mktemp("report") / "model-report")


def test_the_report_shows_both_models_figures_with_captions(report: Path) -> None:
    page = report.read_text(encoding="utf-8")

    sources = re.findall(r'<img src="([^"]+)"', page)
    assert sources == [f"{model}-{kind}.png" for kind in model_report.CAPTIONS for model in ("sklearn", "pytorch")]
    assert page.count("<figcaption>") == len(sources)
    for source in sources:
        with Image.open(report.parent / source) as image:
            assert image.format == "PNG"


def test_the_report_puts_the_built_models_figures_side_by_side(
    report: Path, default_build: tuple[Path, Manifest]
) -> None:
    page = report.read_text(encoding="utf-8")
    manifest = default_build[1]

    assert "<tr><th></th><th>sklearn</th><th>pytorch</th></tr>" in page
    accuracies = "".join(f"<td>{model.evaluation.accuracy:.4f}</td>" for model in manifest.models.values())
    assert f"<tr><td>accuracy</td>{accuracies}</tr>" in page
    served = "".join(f"<td>{model.file} ({model.sha256[:12]})</td>" for model in manifest.models.values())
    assert f"<tr><td>served file</td>{served}</tr>" in page
    assert page.count("<tr><td>green</td>") == 2


def test_no_report_is_written_for_models_the_gate_refuses(
    default_artifacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "source"
    shutil.copytree(default_artifacts, source)
    # Evaluation data with blue and green swapped: the models are right on the yellow rows at most
    text = (source / "evaluation.csv").read_text(encoding="utf-8")
    swapped = text.replace(",blue\n", ",tmp\n").replace(",green\n", ",blue\n").replace(",tmp\n", ",green\n")
    (source / "evaluation.csv").write_text(swapped, encoding="utf-8")

    status = model_report.main(["--source", str(source), "--out", str(tmp_path / "report")])

    assert status == 1
    assert capsys.readouterr().err.startswith("model_report: quality gate: model sklearn has accuracy 0.3")
    assert not (tmp_path / "report").exists()


def test_the_models_guide_shows_a_figure_of_the_report(pytestconfig: pytest.Config) -> None:
    guide = pytestconfig.rootpath / "docs" / "models.md"

    (figure,) = re.findall(r"^!\[[^]]+\]\(([^)]+\.png)\)$", guide.read_text(encoding="utf-8"), flags=re.MULTILINE)

    with Image.open(guide.parent / figure) as image:
        assert image.format == "PNG"
        assert image.size == (420, 360)


@pytest.fixture(scope="module")
def challenged_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = with_challenger(tmp_path_factory.mktemp("challenged"), sklearn=as_good())
    return model_report.write_report(source, tmp_path_factory.mktemp("report") / "model-report")


def test_a_challenger_is_shown_against_its_champion_with_both_confusion_matrices_and_the_flip_table(
    challenged_report: Path,
) -> None:
    page = challenged_report.read_text(encoding="utf-8")
    section = page[page.index("<h2>Champion and challenger</h2>") :]
    assert "<h3>sklearn</h3>" in section
    assert "<h3>pytorch</h3>" not in section
    assert "<tr><td>accuracy</td><td>0.9333</td><td>0.9556</td></tr>" in section
    assert "95% bootstrap interval +0.0000 to +0.0667" in section
    assert "<tr><td>yellow</td><td>14</td><td>1</td><td>0</td><td>0</td></tr>" in section
    sources = re.findall(r'<img src="([^"]+)"', section)
    assert sources == ["sklearn-confusion-matrix.png", "sklearn-challenger-confusion-matrix.png", "sklearn-flips.png"]
    for source in sources:
        with Image.open(challenged_report.parent / source) as image:
            assert image.format == "PNG"
    assert section.count("<figcaption>") == 3


def test_without_a_challenger_the_report_has_no_challenger_section(report: Path) -> None:
    assert "Champion and challenger" not in report.read_text(encoding="utf-8")
