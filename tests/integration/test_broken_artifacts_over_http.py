"""Over sam local start-api, a build whose model file differs from its manifest answers no request."""

from __future__ import annotations

import pytest

from scripts.harness.events import SAMPLE_ROW, body_for
from scripts.harness.local_api import post
from scripts.project import built_models, routes
from tests.support.local_api import copy_of_the_build, start_local_api, stop_local_api

pytestmark = pytest.mark.integration


def test_a_tampered_model_file_stops_every_function_with_one_error_line_each(emulator_containers, tmp_path):
    # Given a copy of the built project whose pytorch.onnx was changed after the build
    project = copy_of_the_build(tmp_path / "project")
    with (built_models(project) / "pytorch.onnx").open("ab") as onnx_file:
        onnx_file.write(b"\0")
    api = start_local_api(project, tmp_path / "start-api.log")
    try:
        # When a droid calls each route
        answers = {
            route: post(f"{api.url}/{route}", body_for(route, f"[{SAMPLE_ROW}]", model="sklearn")) for route in routes()
        }
        logs = api.json_logs()
    finally:
        stop_local_api(api)
    # Then no route answers with a score, each says the server failed, in JSON
    for route, answer in answers.items():
        assert answer.status == 502, (route, answer)
        assert answer.body == {"message": "Internal server error"}
    # And each function's log has one ERROR line naming the file and what is wrong
    errors = [record for record in logs if record.get("level") == "ERROR"]
    assert len(errors) == len(routes()), errors
    for error in errors:
        assert error["message"] == "model artifacts refused"
        assert "/opt/models/pytorch.onnx has sha256" in error["reason"]
