"""A running API for the integration tests: API_URL from the environment, or sam local start-api."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.harness.local_api import LocalApi, container_ids
from scripts.project import REPO, built_models
from tests.support.local_api import start_local_api, stop_local_api
from tests.support.service import configure_service


@pytest.fixture
def models_dir(monkeypatch: pytest.MonkeyPatch) -> Path:
    """In-process handlers here use the models `sam build` produced, as the emulator does."""
    built = built_models()
    configure_service(monkeypatch, KYBER_MODELS_DIR=str(built))
    return built


def mounting_any_of(containers: set[str], roots: tuple[Path, ...]) -> set[str]:
    """Those of the containers with a mount under one of roots (one removed meanwhile is not listed)."""
    found = set()
    for container in containers:
        inspected = subprocess.run(
            ["docker", "inspect", "--format", "{{range .Mounts}}{{.Source}}\n{{end}}", container],
            capture_output=True,
            text=True,
            check=False,
        )
        if any(Path(source).is_relative_to(root) for source in inspected.stdout.split() for root in roots):
            found.add(container)
    return found


@pytest.fixture(scope="session")
def emulator_containers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Fails the run if the emulator leaves containers behind: those serving this checkout's build or a copy of
    it this run made (another checkout's emulator on the same machine is none of this run's business)."""
    if shutil.which("docker") is None:
        pytest.fail("docker is not installed: run `make setup` (scripts/emulator/prepare.sh)")
    before = container_ids()
    yield
    left = mounting_any_of(container_ids() - before, (REPO, tmp_path_factory.getbasetemp()))
    assert not left, f"containers left behind: {sorted(left)}"


@pytest.fixture(scope="session")
def local_api(emulator_containers, tmp_path_factory) -> Iterator[LocalApi | None]:
    """The project's own API under sam local, or None when API_URL names a running one."""
    if os.environ.get("API_URL"):
        yield None
        return
    api = start_local_api(REPO, tmp_path_factory.mktemp("sam-local") / "start-api.log")
    try:
        yield api
    finally:
        stop_local_api(api)


@pytest.fixture(scope="session")
def api_url(local_api: LocalApi | None) -> str:
    return (os.environ.get("API_URL") or local_api.url).rstrip("/")  # type: ignore[union-attr]
