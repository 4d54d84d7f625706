"""A developer who is not root, with Docker running and the emulator image built: the emulator's setup uses a
cache in their own folder and installs nothing, and `make serve` asks for neither root nor Chromium."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.project import REPO

pytestmark = pytest.mark.integration

USER = "kyber-developer"


@pytest.fixture(scope="module")
def developer() -> pwd.struct_passwd:
    """A user of the docker group, as a developer's account is (made here, so the tests need root)."""
    if os.geteuid() != 0:
        pytest.skip("making a user needs root; run as root, as make test does in CI")
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--groups", "docker", USER], check=True)
        return pwd.getpwnam(USER)


@pytest.fixture(scope="module")
def checkout(developer: pwd.struct_passwd) -> Iterator[Path]:
    """What the developer's own clone holds for setting up and serving, where they can read it (this clone may
    sit under a folder only root may enter)."""
    folder = Path(tempfile.mkdtemp(prefix="kyber-developer-"))
    for name in ("Makefile", "template.yaml", "samconfig.toml"):
        shutil.copy(REPO / name, folder / name)
    for name in ("scripts", "requirements", "stacks", "functions", "layers"):
        shutil.copytree(REPO / name, folder / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run(["chown", "-R", f"{developer.pw_uid}:{developer.pw_gid}", str(folder)], check=True)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def as_developer(user: pwd.struct_passwd, checkout: Path, command: list[str]) -> subprocess.CompletedProcess[str]:
    environment = {"HOME": user.pw_dir, "PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
    return subprocess.run(
        ["runuser", "-u", user.pw_name, "--", "env", "-i", *(f"{k}={v}" for k, v in environment.items()), *command],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_emulator_setup_runs_as_a_user_with_a_cache_of_their_own(developer, checkout):
    # When the emulator's setup runs as the developer, from their clone, Docker and the image being there
    run = as_developer(developer, checkout, ["scripts/emulator/prepare.sh"])
    # Then it is ready, having started and installed nothing, with its lock in the developer's cache
    assert run.returncode == 0, run.stderr
    assert "ready in" in run.stdout
    assert "docker already running" in run.stdout
    assert "apt-get" not in run.stdout + run.stderr
    assert os.stat(f"{developer.pw_dir}/.cache/kyber-emulator/.lock").st_uid == developer.pw_uid


def test_serving_asks_for_neither_chromium_nor_root(developer, checkout):
    # When make works out what serving takes (a dry run: what it would run, nothing run)
    run = as_developer(developer, checkout, ["make", "--dry-run", "serve"])
    # Then it prepares the emulator, builds and serves, and installs no browser
    assert run.returncode == 0, run.stderr
    assert "scripts/emulator/prepare.sh" in run.stdout
    assert "scripts/emulator/serve.sh" in run.stdout
    assert "chromium" not in run.stdout
    assert "apt-get" not in run.stdout
