"""The ML team's own artifacts, swapped in by the documented procedure, give their expected scores."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator

import numpy as np
import pytest

from scripts.harness.local_api import LocalApi, post, sam_environment
from scripts.project import REPO, built_models
from tests.support.local_api import start_local_api, stop_local_api
from tests.support.service import NATIVE_TOLERANCE, REFERENCE_MODELS

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not REFERENCE_MODELS.is_dir(), reason=f"{REFERENCE_MODELS} is not on this machine"),
]

DELIVERED_FILES = ("sklearn.model", "pytorch.model", "output_labels.txt")


@pytest.fixture(scope="module")
def swapped_api(emulator_containers, tmp_path_factory) -> Iterator[LocalApi]:
    # Given a copy of the project whose default models are replaced by the ML team's files
    project = tmp_path_factory.mktemp("swapped") / "project"
    shutil.copytree(REPO, project, symlinks=True, ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__"))
    for name in DELIVERED_FILES:
        shutil.copyfile(REFERENCE_MODELS / name, project / "layers" / "models" / "artifacts" / name)
    # When it is rebuilt and served
    subprocess.run(["sam", "build"], cwd=project, env=sam_environment(), check=True, capture_output=True, timeout=600)
    api = start_local_api(project, project / "start-api.log")
    try:
        yield api
    finally:
        stop_local_api(api)


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((REFERENCE_MODELS / "expected.json").read_text())


@pytest.mark.parametrize("model", ["sklearn", "pytorch"])
@pytest.mark.parametrize("route", ["model's own", "astromech"])
def test_swapped_in_models_answer_the_expected_scores(swapped_api, expected, model, route):
    payload = {"crystalData": expected["input"]}
    if route == "astromech":
        payload["model"] = model
    answer = post(f"{swapped_api.url}/{model if route != 'astromech' else 'astromech'}", json.dumps(payload))
    assert answer.status == 200
    labels = list(expected[model][0])
    got = np.array([[row[label] for label in labels] for row in answer.body["scores"]])
    want = np.array([[row[label] for label in labels] for row in expected[model]])
    np.testing.assert_allclose(got, want, rtol=0, atol=NATIVE_TOLERANCE[model])
    assert answer.body["prediction"] == [labels[i] for i in want.argmax(axis=1)]


def test_swapped_build_carries_the_delivered_files_hashes(swapped_api):
    manifest = json.loads((built_models(swapped_api.project) / "manifest.json").read_text())
    sources = {entry["source"]["file"]: entry["source"]["sha256"] for entry in manifest["models"].values()}
    assert sources == {
        "sklearn.model": "ed9114685371304de4e3e063e9ce172519fb2c7ede531098633d769c0131afb2",
        "pytorch.model": "5e7fbde1645af5b8ee45363034d6182a21ce3f999bcd3912d1192532c2153a2f",
    }
    assert manifest["labels_file"]["sha256"] == "890f89cdf6c412785136bb56a67be342c445ba62c06f1c4c69b2776e7d38e7ff"
