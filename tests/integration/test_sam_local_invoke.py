"""`sam local invoke` runs each function on each sample event and gives that event's expected status."""

from __future__ import annotations

import json
import subprocess

import pytest

from scripts.harness.events import EXPECTED_STATUS, route_of, speaks_inference_protocol
from scripts.harness.local_api import sam_environment
from scripts.project import REPO

pytestmark = pytest.mark.integration

FUNCTION_OF = {"sklearn": "SklearnFunction", "pytorch": "PytorchFunction", "astromech": "AstromechFunction"}


@pytest.mark.parametrize("name", sorted(EXPECTED_STATUS))
def test_sam_local_invoke_gives_the_events_status(emulator_containers, name):
    # When the event's function is invoked by the emulator
    result = subprocess.run(
        [
            "sam",
            "local",
            "invoke",
            FUNCTION_OF[route_of(name)],
            "--event",
            f"events/{name}",
            "--skip-pull-image",
        ],
        cwd=REPO,
        env=sam_environment(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    # Then it succeeds and its proxy response carries the expected status and a JSON body
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout.strip().splitlines()[-1])
    assert response["statusCode"] == EXPECTED_STATUS[name], response
    body = json.loads(response["body"])
    answered = "error" not in body if speaks_inference_protocol(name) else "prediction" in body
    assert answered == (EXPECTED_STATUS[name] == 200)
