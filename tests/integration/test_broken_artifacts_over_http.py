"""Over sam local start-api, a build whose model file differs from its manifest answers no request."""

from __future__ import annotations

import pytest

from scripts.lambda_events import ENDPOINTS, SAMPLE_ROW, body_for
from scripts.local_api import post
from tests.integration.conftest import copy_of_the_build, start_local_api, stop_local_api

pytestmark = pytest.mark.integration


def test_a_tampered_model_file_stops_every_function_with_one_error_line_each(emulator_containers, tmp_path):
    # Given a copy of the built project whose pytorch.onnx was changed after the build
    project = copy_of_the_build(tmp_path / "project")
    with (project / ".aws-sam/build/ModelsLayer/models/pytorch.onnx").open("ab") as onnx_file:
        onnx_file.write(b"\0")
    api = start_local_api(project, tmp_path / "start-api.log")
    try:
        # When a droid calls each route
        answers = {
            endpoint: post(f"{api.url}/{endpoint}", body_for(endpoint, f"[{SAMPLE_ROW}]", model="sklearn"))
            for endpoint in ENDPOINTS
        }
        logs = api.json_logs()
    finally:
        stop_local_api(api)
    # Then no route answers with a score, each says the server failed, in JSON
    for endpoint, answer in answers.items():
        assert answer.status == 502, (endpoint, answer)
        assert answer.body == {"message": "Internal server error"}
    # And each function's log has one ERROR line naming the file and what is wrong
    errors = [record for record in logs if record.get("level") == "ERROR"]
    assert len(errors) == len(ENDPOINTS), errors
    for error in errors:
        assert error["message"] == "model artifacts refused"
        assert "/opt/models/pytorch.onnx has sha256" in error["reason"]
