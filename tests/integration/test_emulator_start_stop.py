"""sam local start-api with warm containers: the containers started eagerly are the ones that answer,
and stopping SAM leaves none behind (SAM CLI 1.170.0 lost one in about half of its starts unpatched)."""

from __future__ import annotations

import json

import pytest

from scripts.local_api import post
from tests.conftest import REPO
from tests.integration.conftest import start_local_api, stop_local_api

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
