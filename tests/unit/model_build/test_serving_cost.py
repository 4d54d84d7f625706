"""The serving-cost gate: the build measures what each model costs to serve (ONNX size, session load, memory
added, one row, 10,000 rows) and refuses a model above a limit of serving_cost.toml, naming the figure, its value
and the limit; the default models pass with margin, a 2,000-tree forest does not. The manifest and the card record
each model's ONNX size and the limits it was held to; every measured figure goes to the cost record, outside the
layer."""

from __future__ import annotations

import json
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest
from sklearn.ensemble import RandomForestClassifier

import model_build.__main__ as build_command
from kyber.manifest import Manifest, sha256_of
from model_build.cost import SERVING_COST_FILE, MeasuredCost, ServingCostError, ServingCostGate
from model_build.layer import LayerBuild, build
from tests.support.sklearn_families import delivery, trained


def test_the_default_models_cost_well_under_every_limit(default_layer_build: LayerBuild):
    gate = ServingCostGate.read()
    for assessment in default_layer_build.assessments.values():
        cost = assessment.cost
        assert 0 < cost.onnx_bytes <= gate.max_onnx_bytes / 10
        assert 0 < cost.load_ms <= gate.max_load_ms / 10
        assert 0 < cost.one_row_ms <= gate.max_one_row_ms / 10
        assert 0 < cost.rows_10000_ms <= gate.max_rows_10000_ms / 10
        assert cost.memory_added_bytes <= gate.max_memory_added_mb * 2**20 / 10


def test_a_two_thousand_tree_forest_is_refused_for_its_size(tmp_path: Path):
    forest = trained(RandomForestClassifier(n_estimators=2_000, random_state=0))
    with pytest.raises(ServingCostError) as refused:
        build(delivery(tmp_path, forest), tmp_path / "models", probe_rows=10)
    assert str(refused.value).startswith("serving cost gate: model sklearn's ONNX file is 1,")
    assert str(refused.value).endswith("bytes, above the limit 1,000,000 bytes set in serving_cost.toml")
    assert not (tmp_path / "models").exists()


WITHIN = MeasuredCost(onnx_bytes=888, load_ms=0.5, memory_added_bytes=2**20, one_row_ms=0.01, rows_10000_ms=0.4)


@pytest.mark.parametrize(
    ("above", "reason"),
    [
        ({"onnx_bytes": 1_000_001}, "ONNX file is 1,000,001 bytes, above the limit 1,000,000 bytes"),
        ({"load_ms": 1_000.04}, "session load is 1000.0 ms, above the limit 1000.0 ms"),
        ({"memory_added_bytes": 300 * 2**20}, "memory added is 300.0 MB, above the limit 256.0 MB"),
        ({"one_row_ms": 5.25}, "one row is 5.250 ms, above the limit 5.000 ms"),
        ({"rows_10000_ms": 250.0}, "10,000 rows is 250.0 ms, above the limit 200.0 ms"),
    ],
)
def test_each_figure_above_its_limit_is_refused_naming_the_figure_its_value_and_the_limit(above, reason):
    gate = ServingCostGate.read()
    gate.check("sklearn", WITHIN)
    with pytest.raises(ServingCostError) as refused:
        gate.check("sklearn", replace(WITHIN, **above))
    assert str(refused.value) == f"serving cost gate: model sklearn's {reason} set in serving_cost.toml"


def test_a_gate_file_that_misses_a_limit_is_refused(tmp_path: Path):
    path = tmp_path / "serving_cost.toml"
    path.write_text(SERVING_COST_FILE.read_text().replace("max_load_ms = 1_000\n", ""))
    with pytest.raises(ServingCostError, match="must set exactly"):
        ServingCostGate.read(path)


def test_the_manifest_and_the_card_record_the_onnx_size_and_the_limits_each_model_was_held_to(
    default_build: tuple[Path, Manifest],
):
    models_dir, manifest = default_build
    limits = tomllib.loads(SERVING_COST_FILE.read_text())
    for entry in manifest.models.values():
        cost = entry.serving_cost
        assert cost is not None
        assert cost.onnx_bytes == (models_dir / entry.file).stat().st_size
        assert (cost.gate, cost.limits) == ("serving_cost.toml", limits)
        card = json.loads((models_dir / entry.card.file).read_text())
        assert card["quantitative_analysis"]["serving_cost"] == {
            "onnx_bytes": cost.onnx_bytes,
            "gate": "serving_cost.toml",
            "limits": limits,
        }
        assert card["considerations"]["tradeoffs"][1]["description"] == (
            f"Serving cost: the ONNX file is {cost.onnx_bytes:,} bytes. Measured in ONNX Runtime by the build, each "
            "figure was within the limits of serving_cost.toml: ONNX file at most 1,000,000 bytes, session load at "
            "most 1,000 ms, memory added at most 256 MB, one row at most 5 ms, 10,000 rows at most 200 ms. The build "
            "prints the measured times and writes them to its cost record, not to this card, whose bytes the same "
            "delivery always builds the same."
        )


def test_the_card_states_the_limits_of_the_gate_file_the_build_read(default_layer_build: LayerBuild, tmp_path: Path):
    # Given a gate file with other limits, one of them fractional
    path = tmp_path / "tight.toml"
    path.write_text(SERVING_COST_FILE.read_text().replace("max_one_row_ms = 5", "max_one_row_ms = 2.5"))
    gate = ServingCostGate.read(path)
    # Then what the manifest and card record names that file and its limits
    record = gate.record(default_layer_build.assessments["sklearn"].cost)
    assert record.gate == "tight.toml"
    assert record.limits["max_one_row_ms"] == 2.5
    assert record.onnx_bytes == default_layer_build.assessments["sklearn"].cost.onnx_bytes


def test_the_cost_record_holds_every_figure_measured_for_the_manifest_it_built(
    default_artifacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out, record_file = tmp_path / "models", tmp_path / "records" / "serving-cost.json"
    status = build_command.main(
        ["--source", str(default_artifacts), "--out", str(out), "--cost-record", str(record_file)]
    )
    assert status == 0
    assert f"serving-cost record: {record_file}\n" in capsys.readouterr().out
    record = json.loads(record_file.read_text())
    assert record["manifest_sha256"] == sha256_of(out / "manifest.json")
    assert list(record["models"]) == ["sklearn", "pytorch"]
    assert record["challengers"] == {}
    for name, figures in record["models"].items():
        assert list(figures) == ["onnx_bytes", "load_ms", "memory_added_bytes", "one_row_ms", "rows_10000_ms"]
        assert figures["onnx_bytes"] == (out / f"{name}.onnx").stat().st_size
        assert all(figures[key] > 0 for key in ("load_ms", "one_row_ms", "rows_10000_ms"))
    # And nothing of it is in the layer
    assert sorted(path.name for path in out.iterdir()) == sorted(
        [
            "manifest.json",
            "output_labels.txt",
            "sklearn.onnx",
            "pytorch.onnx",
            "sklearn.model-card.json",
            "pytorch.model-card.json",
        ]
    )
