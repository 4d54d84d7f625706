"""Every sample event in events/ is catalogued and gives its expected status when invoked in-process."""

from __future__ import annotations

import pytest

from scripts.harness.events import EVENTS_DIR, EXPECTED_STATUS, load_event, route_of, speaks_inference_protocol


def test_every_event_file_is_catalogued():
    assert sorted(path.name for path in EVENTS_DIR.glob("*.json")) == sorted(EXPECTED_STATUS)


@pytest.mark.parametrize(("name", "status"), EXPECTED_STATUS.items())
def test_sample_event_gives_its_expected_status(invoke, name, status):
    answer = invoke(route_of(name), load_event(name))
    assert answer.status == status
    assert answer.headers["Content-Type"] == "application/json"
    if speaks_inference_protocol(name):
        # The protocol's answers: an error is {"error": ...} and nothing else
        assert ("error" in answer.body) == (status != 200)
        assert status == 200 or list(answer.body) == ["error"]
    elif status == 200:
        assert len(answer.body["prediction"]) == len(answer.body["scores"]) >= 1
    else:
        assert answer.body["message"]
