"""sam local start-api with warm containers: the containers started eagerly are the ones that answer,
and stopping SAM leaves none behind (SAM CLI 1.170.0 lost one in about half of its starts unpatched);
the images SAM replaces when a build changes its layers do not pile up."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from scripts.harness.local_api import EMULATOR, docker, post, replaced_sam_images
from scripts.project import REPO, built_models
from tests.support.local_api import copy_of_the_build, start_local_api, stop_local_api

pytestmark = pytest.mark.integration

STARTS = 3
BODIES = {
    "sklearn": {"crystalData": [[0.92, 0.12, 0.31, 0.09]]},
    "pytorch": {"crystalData": [[0.92, 0.12, 0.31, 0.09]]},
    "astromech": {"model": "pytorch", "crystalData": [[0.92, 0.12, 0.31, 0.09]]},
}


@pytest.mark.parametrize("start", range(1, STARTS + 1))
def test_each_start_answers_every_route_from_the_containers_it_started_and_stops_them_all(
    emulator_containers, tmp_path, start
):
    # Given sam local start-api, ready, with one warm container per function
    api = start_local_api(REPO, tmp_path / "start-api.log")
    try:
        started = api.containers()
        assert len(started) == len(BODIES)
        # When each route answers its first request
        for route, body in BODIES.items():
            assert post(f"{api.url}/{route}", json.dumps(body)).status == 200
        # Then no other container was started for them
        assert api.containers() == started
    finally:
        # And stopping SAM removes every container it started
        stop_local_api(api)


def serve_once(project: Path, log_path: Path) -> None:
    """Start sam local over the project's build, ask every route once, stop it."""
    api = start_local_api(project, log_path)
    try:
        for route, body in BODIES.items():
            assert post(f"{api.url}/{route}", json.dumps(body)).status == 200
    finally:
        stop_local_api(api)


def sam_image() -> str:
    """The id of SAM's current image of the template's layers."""
    return docker("images", "--quiet", "--no-trunc", "samcli/lambda-python").strip()


def test_preparing_the_emulator_removes_the_images_sam_replaced(emulator_containers, tmp_path):
    # Given an image SAM built for a build whose layer differs from this one's, then replaced with
    # this build's under the same tag (as every `sam build` that changes the layers makes it do)
    project = copy_of_the_build(tmp_path / "project")
    (built_models(project) / "note.txt").write_text("a file the other build lacks\n")
    serve_once(project, tmp_path / "start-api-changed.log")
    changed_build_image = sam_image()
    serve_once(REPO, tmp_path / "start-api.log")
    assert changed_build_image in replaced_sam_images()
    # When the emulator is prepared again, as `make setup` does before every serve and test
    prepared = subprocess.run([EMULATOR / "prepare.sh"], capture_output=True, text=True, check=True)
    # Then the replaced image is gone (one a running container uses would stay), and SAM's current one is kept
    assert changed_build_image not in replaced_sam_images()
    assert "stale or replaced SAM images removed: " in prepared.stdout
    assert sam_image()
