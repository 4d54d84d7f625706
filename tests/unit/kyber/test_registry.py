"""Models load once per execution environment, from verified artifacts, and the load is logged."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from http import HTTPStatus
from pathlib import Path

import onnxruntime as ort
import pytest

from kyber.errors import ModelArtifactError
from kyber.manifest import read_manifest, sha256_of
from kyber.registry import ModelRegistry
from scripts.harness.events import load_event
from tests.support.service import configure_service


@pytest.fixture
def sessions_created(monkeypatch) -> Counter:
    """Counts ONNX Runtime sessions created, by model file name."""
    created: Counter = Counter()
    real_session = ort.InferenceSession

    def counting_session(path, *args, **kwargs):
        created[Path(path).name] += 1
        return real_session(path, *args, **kwargs)

    monkeypatch.setattr("kyber.registry.ort.InferenceSession", counting_session)
    return created


def model_load_logs(output: str) -> list[dict]:
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [record for record in records if record.get("message") == "model loaded"]


@pytest.mark.parametrize("route", ["sklearn", "pytorch"])
def test_model_route_loads_its_model_once_at_cold_start(
    handler_module, lambda_context, sessions_created, capfd, models_dir, route
):
    # Given a cold start of the route's execution environment
    capfd.readouterr()
    handler = handler_module(route)
    # When it serves two requests
    for _ in range(2):
        response = handler.lambda_handler(load_event(f"{route}_single.json"), lambda_context)
        assert response["statusCode"] == HTTPStatus.OK
    # Then its model was loaded once, during init, and that load was logged once with hash and time
    assert sessions_created == Counter({f"{route}.onnx": 1})
    (load,) = model_load_logs(capfd.readouterr().out)
    assert load["model"] == route
    assert load["sha256"] == sha256_of(models_dir / f"{route}.onnx")
    assert load["duration_ms"] > 0


def test_astromech_loads_every_model_once_at_cold_start(handler_module, lambda_context, sessions_created, capfd):
    # Given a cold start of /astromech
    capfd.readouterr()
    handler = handler_module("astromech")
    # Then both models were verified and loaded during init, before any request
    assert sessions_created == Counter({"sklearn.onnx": 1, "pytorch.onnx": 1})
    # When it serves sklearn twice, then pytorch twice
    for name in ["astromech_sklearn_single.json"] * 2 + ["astromech_pytorch_batch.json"] * 2:
        response = handler.lambda_handler(load_event(name), lambda_context)
        assert response["statusCode"] == HTTPStatus.OK
    # Then no model was loaded again
    assert sessions_created == Counter({"sklearn.onnx": 1, "pytorch.onnx": 1})
    assert [log["model"] for log in model_load_logs(capfd.readouterr().out)] == ["sklearn", "pytorch"]


def test_bad_model_choice_loads_nothing_more(handler_module, lambda_context, sessions_created):
    handler = handler_module("astromech")
    loaded_at_init = Counter(sessions_created)
    response = handler.lambda_handler(load_event("astromech_bad_model.json"), lambda_context)
    assert response["statusCode"] == HTTPStatus.BAD_REQUEST
    assert sessions_created == loaded_at_init


@pytest.fixture
def models_copy(models_dir, tmp_path) -> Path:
    copy = tmp_path / "models"
    shutil.copytree(models_dir, copy)
    return copy


def test_tampered_model_file_is_refused(models_copy):
    # Given an ONNX file changed after the build
    with (models_copy / "pytorch.onnx").open("ab") as onnx_file:
        onnx_file.write(b"\0")
    # When the registry opens the folder, then it refuses it, naming the file, whichever model is wanted
    with pytest.raises(ModelArtifactError, match=r"pytorch\.onnx has sha256"):
        ModelRegistry(models_copy)


def test_labels_file_changed_after_build_is_refused(models_copy):
    (models_copy / "output_labels.txt").write_text("['yellow', 'green', 'blue']\n")
    with pytest.raises(ModelArtifactError, match=r"output_labels\.txt has sha256"):
        ModelRegistry(models_copy)


def test_missing_manifest_is_refused(models_copy):
    (models_copy / "manifest.json").unlink()
    with pytest.raises(ModelArtifactError, match="cannot read"):
        ModelRegistry(models_copy)


def test_a_challenger_loads_once_and_its_load_is_logged_as_the_challengers(
    challenger_models, monkeypatch, handler_module, lambda_context, sessions_created, capfd
):
    # Given a cold start of a function whose scikit-learn model has a challenger
    configure_service(monkeypatch, KYBER_MODELS_DIR=str(challenger_models))
    capfd.readouterr()
    handler = handler_module("sklearn")
    # When it serves two requests, then the challenger was loaded once, during init, beside its champion
    for _ in range(2):
        assert handler.lambda_handler(load_event("sklearn_single.json"), lambda_context)["statusCode"] == HTTPStatus.OK
    assert sessions_created == Counter({"sklearn.onnx": 2})
    loads = model_load_logs(capfd.readouterr().out)
    manifest = read_manifest(challenger_models)
    assert [(load["model"], load["role"], load["version"], load["artifact"]) for load in loads] == [
        ("sklearn", "champion", manifest.models["sklearn"].sha256[:12], str(challenger_models / "sklearn.onnx")),
        (
            "sklearn",
            "challenger",
            manifest.challengers["sklearn"].sha256[:12],
            str(challenger_models / "challenger" / "sklearn.onnx"),
        ),
    ]


def test_a_registry_hands_out_the_one_loaded_challenger_and_none_for_a_model_without_one(challenger_models):
    registry = ModelRegistry(challenger_models)
    first = registry.challenger("sklearn")
    assert first is not None
    assert first.version == registry.manifest.challengers["sklearn"].sha256[:12]
    assert registry.challenger("sklearn") is first
    assert registry.challenger("pytorch") is None


def test_every_model_runs_on_one_thread_with_every_graph_optimisation(challenger_models):
    registry = ModelRegistry(challenger_models)
    challenger = registry.challenger("sklearn")
    assert challenger is not None
    for model in (registry.get("sklearn"), registry.get("pytorch"), challenger):
        options = model.session.get_session_options()
        assert (options.intra_op_num_threads, options.inter_op_num_threads) == (1, 1)
        assert options.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        assert model.session.get_providers() == ["CPUExecutionProvider"]
