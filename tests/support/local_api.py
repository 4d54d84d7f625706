"""sam local start-api for the integration tests: started on a project (this one, or a copy of its build), a
failed start failing the test, and a stop that fails the test when SAM leaves containers behind."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scripts.harness import local_api as local_api_harness
from scripts.harness.local_api import LocalApi, LocalApiError
from scripts.project import REPO


def copy_of_the_build(destination: Path) -> Path:
    """A project holding a copy of this one's `sam build` output and SAM settings: what sam local serves."""
    shutil.copytree(REPO / ".aws-sam", destination / ".aws-sam")
    for name in ("samconfig.toml", "template.yaml"):
        shutil.copy(REPO / name, destination / name)
    return destination


def start_local_api(project: Path, log_path: Path) -> LocalApi:
    try:
        return local_api_harness.start_local_api(project, log_path)
    except LocalApiError as error:
        pytest.fail(str(error))


def stop_local_api(api: LocalApi) -> None:
    """Stop SAM; fail if it left any of the containers it started behind (they are removed all the same)."""
    left = api.stop()
    assert not left, f"sam local start-api left containers behind when it stopped: {left}"
