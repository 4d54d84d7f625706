"""The Open Inference Protocol through the API (sam local start-api, or API_URL) with the clients platforms use:
tritonclient[http] and KServe's InferenceRESTClient, run in their own venv by tests/integration/protocol_clients.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from scripts.harness.local_api import post
from scripts.project import REPO
from tests.support.service import ROW_LIMIT

pytestmark = pytest.mark.integration

CLIENTS_PYTHON = REPO / ".venv-clients" / "bin" / "python"
CLIENT_SCRIPT = REPO / "tests" / "integration" / "protocol_clients.py"
ROWS = [[0.92, 0.12, 0.31, 0.09], [6.2, 2.9, 4.3, 1.3], [7.7, 3.0, 6.1, 2.3], [5.1, 3.5, 1.4, 0.2]]
LABELS = ["blue", "green", "yellow"]


@pytest.fixture(scope="module")
def clients(api_url: str) -> dict[str, Any]:
    """What each client made of the API, as the client script printed it."""
    if not CLIENTS_PYTHON.exists():
        pytest.fail("the clients' venv is missing: make .venv-clients/.installed")
    command = [str(CLIENTS_PYTHON), str(CLIENT_SCRIPT), api_url, json.dumps(ROWS), os.environ.get("API_KEY", "")]
    run = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=900, check=False)
    sys.stderr.write(run.stderr[-3000:])
    assert run.returncode == 0, run.stderr[-6000:]
    return dict(json.loads(run.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def native(api_url: str) -> dict[str, Any]:
    """The native routes' answers for the same rows: scores, predictions and the model's version."""
    answers = {}
    for model in ("sklearn", "pytorch"):
        answer = post(f"{api_url}/{model}", json.dumps({"crystalData": ROWS}))
        assert answer.status == 200
        scores = [[row[label] for label in LABELS] for row in answer.body["scores"]]
        version = {name.lower(): value for name, value in answer.headers.items()}["x-kyber-model-version"]
        answers[model] = {"scores": scores, "prediction": answer.body["prediction"], "version": version}
    return answers


def test_tritonclient_sees_a_live_ready_server_and_which_models_are_ready(clients):
    triton = clients["tritonclient"]
    assert triton["live"] is True
    assert triton["ready"] is True
    assert triton["sklearn ready"] is True
    assert triton["pytorch ready at its version"] is True
    assert triton["tensorflow ready"] is False
    assert triton["server"] == {
        "name": "kyber-crystal-classifier",
        "version": "1.0.0",
        "extensions": ["classification"],
    }


def test_tritonclient_reads_each_models_metadata_with_its_version_and_datatype(clients, native):
    for model, datatype in (("sklearn", "FP64"), ("pytorch", "FP32")):
        metadata = clients["tritonclient"]["metadata"][model]
        assert metadata["versions"] == [native[model]["version"]]
        assert metadata["platform"] == "onnx_onnxv1"
        assert metadata["inputs"] == [{"name": "crystal_data", "datatype": datatype, "shape": [-1, 4]}]
        assert [output["name"] for output in metadata["outputs"]] == ["probabilities", "label"]


@pytest.mark.parametrize("model", ["sklearn", "pytorch"])
def test_tritonclient_gets_the_native_routes_scores_and_labels(clients, native, model):
    # Given what tritonclient got from /v2/models/<model>/infer with binary_data=False, in the model's datatype
    answer = clients["tritonclient"]["infer"][model]
    # Then the scores are the native route's numbers for the same rows, in the model's own datatype
    dtype = np.float64 if model == "sklearn" else np.float32
    assert answer["datatype"] == {"sklearn": "FP64", "pytorch": "FP32"}[model]
    np.testing.assert_array_equal(np.array(answer["probabilities"], dtype), np.array(native[model]["scores"], dtype))
    assert answer["labels"] == native[model]["prediction"]
    assert (answer["id"], answer["model_name"], answer["model_version"]) == (
        f"triton-{model}",
        model,
        native[model]["version"],
    )


def test_tritonclient_class_count_gives_the_two_best_labels_per_row(clients, native):
    answer = clients["tritonclient"]["classification"]
    entries = [[entry.split(":") for entry in row] for row in answer["probabilities"]]
    for row, scores in zip(entries, native["pytorch"]["scores"], strict=True):
        best = sorted(range(3), key=lambda index: -scores[index])[:2]
        assert [(int(index), label) for _, index, label in row] == [(index, LABELS[index]) for index in best]
        assert [float(score) for score, _, _ in row] == [scores[index] for index in best]


def test_tritonclient_raises_the_servers_message_for_each_error(clients):
    triton = clients["tritonclient"]
    assert triton["unknown model"] == {
        "status": "404",
        "message": "unknown model 'tensorflow': this route serves 'sklearn' and 'pytorch'",
    }
    assert triton["wrong shape"] == {
        "status": "400",
        "message": f"input 'crystal_data' shape must be [n, 4] with n from 1 to {ROW_LIMIT}; got [4]",
    }
    # tritonclient's default, binary tensors, is refused with what to do instead
    assert triton["binary data"]["status"] == "415"
    assert "binary_data=False" in triton["binary data"]["message"]


def test_kserves_client_sees_the_server_and_gets_the_native_routes_scores(clients, native):
    kserve = clients["kserve"]
    assert (kserve["live"], kserve["ready"], kserve["sklearn ready"], kserve["tensorflow ready"]) == (
        True,
        True,
        True,
        False,
    )
    answer = kserve["infer"]
    assert (answer["id"], answer["model_name"]) == ("kserve-1", "sklearn")
    assert answer["probabilities"] == native["sklearn"]["scores"]
    assert answer["labels"] == native["sklearn"]["prediction"]


def test_kserves_client_reports_the_servers_message(clients):
    error = clients["kserve"]["data short of its shape"]
    assert error["status"] == 400
    assert "input 'crystal_data' has 16 values; its shape [5, 4] needs 20" in error["message"]
