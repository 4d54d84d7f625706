"""A function whose model artifacts fail their checks does not start: one ERROR line names the file and
what is wrong, the same on every route."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from scripts.project import routes
from tests.support.service import configure_service


def append_a_byte(models: Path) -> None:
    with (models / "pytorch.onnx").open("ab") as onnx_file:
        onnx_file.write(b"\0")


def edit_manifest(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def edit(models: Path) -> None:
        manifest = json.loads((models / "manifest.json").read_text())
        change(manifest)
        (models / "manifest.json").write_text(json.dumps(manifest))

    return edit


FAULTS: dict[str, tuple[Callable[[Path], object], str]] = {
    "missing model file": (lambda models: (models / "sklearn.onnx").unlink(), r"/sklearn\.onnx is missing"),
    "hash mismatch": (append_a_byte, r"/pytorch\.onnx has sha256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}"),
    "missing manifest": (lambda models: (models / "manifest.json").unlink(), r"cannot read .*/manifest\.json"),
    "manifest not JSON": (
        lambda models: (models / "manifest.json").write_text("{models"),
        r"manifest\.json is not JSON",
    ),
    "manifest key missing": (edit_manifest(lambda manifest: manifest.pop("models")), r"manifest\.json has no 'models'"),
    "nested manifest key missing": (
        edit_manifest(lambda manifest: manifest["models"]["pytorch"]["parity"].pop("max_abs_input")),
        r"manifest\.json > models > pytorch > parity has no 'max_abs_input'",
    ),
    "model card changed": (
        lambda models: (models / "sklearn.model-card.json").write_text("{}"),
        r"/sklearn\.model-card\.json has sha256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}",
    ),
    "model card missing": (
        lambda models: (models / "pytorch.model-card.json").unlink(),
        r"/pytorch\.model-card\.json is missing",
    ),
    "evaluation figure missing": (
        edit_manifest(lambda manifest: manifest["models"]["sklearn"]["evaluation"].pop("accuracy")),
        r"manifest\.json > models > sklearn > evaluation has no 'accuracy'",
    ),
    "labels that disagree": (
        edit_manifest(lambda manifest: manifest.update(labels=["yellow", "green", "blue"])),
        r"/output_labels\.txt names \['blue', 'green', 'yellow'\], the manifest says \['yellow', 'green', 'blue'\]",
    ),
}


@pytest.mark.parametrize("route", routes())
@pytest.mark.parametrize(("fault", "reason"), FAULTS.values(), ids=FAULTS.keys())
def test_a_broken_artifact_stops_the_init_with_one_error_line_naming_it(
    built_models, tmp_path, monkeypatch, handler_module, capfd, route, fault, reason
):
    # Given the built models with one fault
    broken = tmp_path / "models"
    shutil.copytree(built_models, broken)
    fault(broken)
    configure_service(monkeypatch, KYBER_MODELS_DIR=str(broken))
    capfd.readouterr()
    # When the function starts cold, then it stops before it can answer
    with pytest.raises(SystemExit) as stopped:
        handler_module(route)
    assert stopped.value.code == 1
    # And its log has exactly one ERROR line, which says what is wrong with which file
    records = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")]
    (error,) = [record for record in records if record["level"] == "ERROR"]
    assert error["message"] == "model artifacts refused"
    assert str(broken) in error["reason"]
    assert re.search(reason, error["reason"]), error["reason"]


@pytest.mark.parametrize("route", routes())
def test_models_whose_labels_are_not_the_stacks_stop_the_init_naming_both_lists(
    built_models, monkeypatch, handler_module, capfd, route
):
    # Given the stack deployed for four labels, and models whose labels file names three
    configure_service(monkeypatch, KYBER_MODELS_DIR=str(built_models), KYBER_LABELS="blue,green,yellow,violet")
    capfd.readouterr()
    # When the function starts cold, then it stops before it can answer (deployed: the publish fails)
    with pytest.raises(SystemExit):
        handler_module(route)
    records = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")]
    (error,) = [record for record in records if record["level"] == "ERROR"]
    assert error["reason"] == (
        "the stack's Labels parameter names ['blue', 'green', 'yellow', 'violet'], the models' labels file "
        "['blue', 'green', 'yellow']: deploy with Labels=blue,green,yellow"
    )


def test_models_whose_labels_are_the_stacks_start(built_models, monkeypatch, handler_module):
    configure_service(monkeypatch, KYBER_MODELS_DIR=str(built_models), KYBER_LABELS="blue, green, yellow")
    assert handler_module("astromech").scorer.models["sklearn"].labels == ("blue", "green", "yellow")
