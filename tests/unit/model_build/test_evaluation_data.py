"""evaluation.csv as the models layer build reads it: a header, then one row of features and a label name per
line; anything else is refused naming the line and what is wrong, and the build writes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

import model_build.__main__ as build_command
from model_build.evaluation import EvaluationDataError, read_evaluation_data
from model_build.layer import build

LABELS = ("blue", "green", "yellow")
HEADER = "sepal_length,sepal_width,petal_length,petal_width,label\n"


def evaluation_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "evaluation.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_file_without_rows_of_every_label_is_refused_naming_the_missing_ones(tmp_path: Path) -> None:
    path = evaluation_file(tmp_path, HEADER + "5.1,3.5,1.4,0.2,green\n")

    with pytest.raises(EvaluationDataError, match="has no rows labelled blue, yellow: every label must be measured"):
        read_evaluation_data(path, LABELS, 4)


def test_a_well_formed_file_gives_float64_rows_and_label_indices(tmp_path: Path) -> None:
    path = evaluation_file(tmp_path, HEADER + "5.1,3.5,1.4,0.2,blue\n7,3,6,2,yellow\n6.2,2.9,4.3,1.3,green\n")

    data = read_evaluation_data(path, LABELS, 4)

    assert data.features.dtype == np.float64
    assert data.features.tolist() == [[5.1, 3.5, 1.4, 0.2], [7.0, 3.0, 6.0, 2.0], [6.2, 2.9, 4.3, 1.3]]
    assert data.target.tolist() == [0, 2, 1]
    assert data.columns == ("sepal_length", "sepal_width", "petal_length", "petal_width", "label")


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("5.1,3.5,1.4,0.2,blue\n5.1,3.5,1.4,0.2,red\n", "line 3: unknown label 'red', the labels file names"),
        ("5.1,3.5,1.4,0.2,Blue\n", "line 2: unknown label 'Blue', the labels file names"),
        ("5.1,3.5,1.4,0.2,blue\n5.1,3.5,1.4,blue\n", "line 3: 4 columns, the header has 5"),
        ("5.1,3.5,1.4,0.2,0.1,blue\n", "line 2: 6 columns, the header has 5"),
        ("5.1,3.5,1.4,0.2,blue\n\n", "line 3: 0 columns, the header has 5"),
        ("5.1,3.5,nan,0.2,blue\n", "line 2, column 3: 'nan' is not a finite number"),
        ("5.1,inf,1.4,0.2,blue\n", "line 2, column 2: 'inf' is not a finite number"),
        ("5.1,3.5,1.4,1e999,blue\n", "line 2, column 4: '1e999' is not a finite number"),
        ("5.1,three,1.4,0.2,blue\n", "line 2, column 2: 'three' is not a number"),
        ("", "has a header and no rows"),
        ('5.1,"3.5"0,1.4,0.2,blue\n', "line 2: ',' expected after '\"'"),
    ],
)
def test_a_malformed_row_is_refused_naming_its_line_and_the_problem(tmp_path: Path, rows: str, message: str) -> None:
    path = evaluation_file(tmp_path, HEADER + rows)

    with pytest.raises(EvaluationDataError) as refused:
        read_evaluation_data(path, LABELS, 4)

    assert str(refused.value).startswith(f"{path} ")
    assert message in str(refused.value)


@pytest.mark.parametrize(
    "header", ["", "sepal_length,sepal_width,petal_length,petal_width\n", "a,b,c,d,colour\n", "a,b,c,label\n"]
)
def test_a_file_without_the_header_of_four_features_and_label_is_refused_at_line_1(tmp_path: Path, header: str) -> None:
    path = evaluation_file(tmp_path, header + "5.1,3.5,1.4,0.2,blue\n")

    with pytest.raises(EvaluationDataError, match="line 1: the header must be 4 feature names then 'label'"):
        read_evaluation_data(path, LABELS, 4)


def test_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(EvaluationDataError, match=r"evaluation\.csv is missing: the models are measured on it"):
        read_evaluation_data(tmp_path / "evaluation.csv", LABELS, 4)


def test_a_build_without_evaluation_data_exits_1_naming_the_file_and_writes_nothing(
    default_artifacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the default artifacts without their evaluation.csv
    source = tmp_path / "source"
    shutil.copytree(default_artifacts, source)
    (source / "evaluation.csv").unlink()
    out = tmp_path / "models"
    # When the layer is built as `sam build` builds it
    status = build_command.main(["--source", str(source), "--out", str(out), "--probe-rows", "10"])
    # Then it fails with one line naming the file, and writes nothing
    assert status == 1
    assert capsys.readouterr().err == (
        f"model_build: {source / 'evaluation.csv'} is missing: the models are measured on it\n"
    )
    assert not out.exists()


def test_a_build_with_an_unknown_label_in_its_evaluation_data_names_the_line(
    default_artifacts: Path, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    shutil.copytree(default_artifacts, source)
    lines = (source / "evaluation.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    lines[7] = lines[7].rsplit(",", 1)[0] + ",purple\n"
    (source / "evaluation.csv").write_text("".join(lines), encoding="utf-8")

    with pytest.raises(EvaluationDataError, match="line 8: unknown label 'purple'"):
        build(source, tmp_path / "models", probe_rows=10)

    assert not (tmp_path / "models").exists()
