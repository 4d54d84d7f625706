"""The Open Inference Protocol reaches a model's challenger by its version, so that a client can compare the two on
purpose: the model's metadata lists both versions, /versions/<challenger's>/... answers with the challenger; the
droids' routes and the protocol's routes without a version always get the champion."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from kyber.manifest import Manifest, read_manifest
from scripts.harness.events import load_event, protocol_event
from tests.support.service import configure_service

ROWS = [[5.9, 3.0, 5.1, 1.8], [6.2, 2.9, 4.3, 1.3], [7.9, 0.5, 2.2, 2.4]]


@pytest.fixture
def manifest(models_dir: Path, challenger_models: Path, monkeypatch: pytest.MonkeyPatch) -> Manifest:
    """The models layer with a challenger for sklearn, served in place of the default one (models_dir)."""
    configure_service(monkeypatch, KYBER_MODELS_DIR=str(challenger_models))
    return read_manifest(challenger_models)


def versions(manifest: Manifest) -> tuple[str, str]:
    return manifest.models["sklearn"].sha256[:12], manifest.challengers["sklearn"].sha256[:12]


def infer_body(rows: list[list[float]]) -> str:
    return json.dumps({"inputs": [{"name": "crystal_data", "shape": [len(rows), 4], "datatype": "FP64", "data": rows}]})


def challenger_scores(models_dir: Path, rows: list[list[float]]) -> np.ndarray:
    entry = read_manifest(models_dir).challengers["sklearn"]
    session = ort.InferenceSession(str(models_dir / entry.file), providers=["CPUExecutionProvider"])
    (scores,) = session.run([entry.probabilities_output], {entry.input_name: np.asarray(rows, entry.input_dtype)})
    return np.asarray(scores)


@pytest.mark.parametrize("route", ["sklearn", "astromech"])
def test_a_models_metadata_lists_its_champions_and_its_challengers_versions(manifest, invoke, route):
    answer = invoke(route, protocol_event(route, "GET", "/v2/models/sklearn"))
    assert answer.status == 200
    assert answer.body["versions"] == list(versions(manifest))
    assert versions(manifest)[0] != versions(manifest)[1]


@pytest.mark.parametrize("route", ["sklearn", "astromech"])
def test_the_challengers_version_scores_with_the_challenger(manifest, invoke, challenger_models, capfd, route):
    champion, challenger = versions(manifest)
    capfd.readouterr()
    # When a client asks for the challenger's version by name
    path = f"/v2/models/sklearn/versions/{challenger}/infer"
    answer = invoke(route, protocol_event(route, "POST", path, infer_body(ROWS)))
    # Then the challenger answers, saying so, with the scores its ONNX file gives
    assert answer.status == 200
    assert (answer.body["model_version"], answer.headers["X-Kyber-Model-Version"]) == (challenger, challenger)
    (probabilities,) = [output for output in answer.body["outputs"] if output["name"] == "probabilities"]
    assert np.allclose(np.reshape(probabilities["data"], (len(ROWS), -1)), challenger_scores(challenger_models, ROWS))
    # and the champion's model figures do not count it
    output = capfd.readouterr().out
    assert '"Predictions"' not in output
    assert '"ShadowRequests"' not in output
    # while without a version, or with the champion's, the champion answers
    for path in ("/v2/models/sklearn/infer", f"/v2/models/sklearn/versions/{champion}/infer"):
        assert invoke(route, protocol_event(route, "POST", path, infer_body(ROWS))).body["model_version"] == champion


def test_the_challengers_version_has_its_metadata_and_is_ready(manifest, invoke):
    challenger = versions(manifest)[1]
    metadata = invoke("sklearn", protocol_event("sklearn", "GET", f"/v2/models/sklearn/versions/{challenger}"))
    assert (metadata.status, metadata.body["name"], metadata.body["inputs"][0]["name"]) == (
        200,
        "sklearn",
        "crystal_data",
    )
    ready = invoke("sklearn", protocol_event("sklearn", "GET", f"/v2/models/sklearn/versions/{challenger}/ready"))
    assert (ready.status, ready.body) == (200, {"name": "sklearn", "ready": True})


def test_an_unknown_version_is_a_404_naming_the_versions_served(manifest, invoke):
    champion, challenger = versions(manifest)
    answer = invoke("sklearn", protocol_event("sklearn", "GET", "/v2/models/sklearn/versions/0123456789ab"))
    assert answer.status == 404
    assert answer.body == {
        "error": f"model 'sklearn' has no version '0123456789ab'; it serves version {champion!r} and {challenger!r}"
    }


def test_the_droids_routes_always_get_the_champion(manifest, invoke):
    champion = versions(manifest)[0]
    for route, event in (("sklearn", "sklearn_batch.json"), ("astromech", "astromech_sklearn_single.json")):
        answer = invoke(route, load_event(event))
        assert (answer.status, answer.headers["X-Kyber-Model-Version"]) == (200, champion)
