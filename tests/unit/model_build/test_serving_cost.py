"""The serving-cost gate: the build measures what each model costs to serve (ONNX size, session load, memory
added, one row, 10,000 rows) and refuses a model above a limit of serving_cost.toml, naming the figure, its value
and the limit; the default models pass with margin, a 2,000-tree forest does not."""

from __future__ import annotations

from pathlib import Path

import pytest
from sklearn.ensemble import RandomForestClassifier

from model_build.cost import SERVING_COST_FILE, ServingCostError, ServingCostGate
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


def test_a_gate_file_that_misses_a_limit_is_refused(tmp_path: Path):
    path = tmp_path / "serving_cost.toml"
    path.write_text(SERVING_COST_FILE.read_text().replace("max_load_ms = 1_000\n", ""))
    with pytest.raises(ServingCostError, match="must set exactly"):
        ServingCostGate.read(path)
