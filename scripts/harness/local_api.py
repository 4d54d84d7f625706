"""sam local start-api driven from Python: start it by PID, wait until it serves, stop it, POST to it.

Used by the integration tests and by the benchmark.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class LocalApiError(RuntimeError):
    """sam local start-api did not come up."""


REPO = Path(__file__).resolve().parents[2]
EMULATOR = REPO / "scripts" / "emulator"
READY_TIMEOUT_S = 240
STOP_TIMEOUT_S = 30


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    body: Any
    content_type: str
    headers: dict[str, str]


def post(url: str, body: str | bytes | None, timeout: float = 60) -> HttpAnswer:
    return send("POST", url, body, timeout)


def send(method: str, url: str, body: str | bytes | None, timeout: float = 60) -> HttpAnswer:
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data if data is not None else b"", method=method)
    request.add_header("Content-Type", "application/json")
    if os.environ.get("API_KEY"):  # a deployed stack's key; sam local checks none
        request.add_header("x-api-key", os.environ["API_KEY"])
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw, headers = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as error:
        status, raw, headers = error.code, error.read(), dict(error.headers)
    return HttpAnswer(status=status, body=json.loads(raw), content_type=headers["Content-Type"], headers=headers)


def post_ok(url: str, body: str) -> HttpAnswer:
    answer = post(url, body)
    if answer.status != 200:
        raise LocalApiError(f"POST {url} answered {answer.status}: {answer.body}")
    return answer


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sam_environment() -> dict[str, str]:
    """This process's environment minus the service's own settings: SAM CLI would hand a shell
    value of any variable the template declares to the function, overriding the template."""
    return {name: value for name, value in os.environ.items() if not name.startswith(("KYBER_", "POWERTOOLS_"))}


def docker(*arguments: str) -> str:
    return subprocess.run(["docker", *arguments], capture_output=True, text=True, check=True).stdout


def container_ids() -> set[str]:
    return set(docker("ps", "-aq").split())


def emulator(*arguments: str) -> str:
    """What scripts/emulator/prepare.sh prints: the home of the emulator's image facts."""
    return subprocess.run([EMULATOR / "prepare.sh", *arguments], capture_output=True, text=True, check=True).stdout


def lambda_base_image() -> str:
    """What SAM runs python3.13 functions on (scripts/emulator/prepare.sh pulls or builds it)."""
    return emulator("--base-image").strip()


def replaced_sam_images() -> set[str]:
    """Untagged images built on the Lambda base image: those SAM replaced by rebuilding its image of
    the template's layers when a build changed them (scripts/emulator/prepare.sh removes them)."""
    return set(emulator("--replaced-images").split())


@dataclass
class LocalApi:
    """sam local start-api serving one built template, started and stopped by PID."""

    project: Path
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    # The project's containers already running when this API started (another API over the same build).
    others: frozenset[str] = frozenset()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.others = frozenset(self._sam_containers("list"))
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    "sam",
                    "local",
                    "start-api",
                    "--port",
                    str(self.port),
                    "--warm-containers",
                    "EAGER",
                    "--skip-pull-image",
                ],
                cwd=self.project,
                env=sam_environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise LocalApiError(f"sam local start-api exited with {self.process.returncode}:\n{self.log()}")
            if not port_is_free(self.port) and "Running on http" in self.log():
                return
            time.sleep(0.25)
        self.stop()
        raise LocalApiError(f"sam local start-api was not ready within {READY_TIMEOUT_S} s:\n{self.log()}")

    def stop(self) -> list[str]:
        """Stop SAM and return the ids of the containers it left behind, which are then removed."""
        if self.process is None:
            return []
        if self.process.poll() is None:
            # SAM ignores SIGINT when started from a script; SIGTERM makes it stop its containers.
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        left = sorted(self.containers())
        if left:
            subprocess.run(["docker", "rm", "-f", *left], capture_output=True, check=True)
        return left

    def containers(self) -> set[str]:
        """The ids of the containers this API runs the project's functions in."""
        return set(self._sam_containers("list")) - self.others

    def _sam_containers(self, action: str) -> list[str]:
        listing = subprocess.run(
            [EMULATOR / "sam_containers.sh", action, str(self.project)],
            capture_output=True,
            text=True,
            check=True,
        )
        return listing.stdout.split()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def json_logs(self) -> list[dict[str, Any]]:
        """The functions' structured log lines and metrics, as the emulator relayed them."""
        records = []
        for line in self.log().splitlines():
            start = line.find("{")
            if start < 0:
                continue
            try:
                record = json.loads(line[start:])
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records


def start_local_api(project: Path, log_path: Path) -> LocalApi:
    """Serve project's build on port 3000, or on a free port when 3000 is taken."""
    if not (project / ".aws-sam" / "build" / "template.yaml").is_file():
        raise LocalApiError(f"no sam build in {project}: run `make build` first")
    port = 3000 if port_is_free(3000) else free_port()
    api = LocalApi(project=project, port=port, log_path=log_path)
    api.start()
    return api
