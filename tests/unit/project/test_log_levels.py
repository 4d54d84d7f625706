"""Every line the stack watches reaches CloudWatch at every LogLevel: a function, run in a process of its own with
the environment and Lambda log level the template gives it, writes its real output, and Lambda's documented filter
(tests/support/lambda_log_filter.py) is applied to it."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scripts.project import REPO, process_environment
from tests.support.lambda_log_filter import kept_by_lambda
from tests.support.template import deployed, source_template

LOG_LEVELS = source_template()["Parameters"]["LogLevel"]["AllowedValues"]


def function_output(route: str, log_level: str, models_dir: Path) -> tuple[str, str]:
    """The function's stdout for a 200, a 422 and a 500, deployed at this LogLevel; and Lambda's level for it."""
    function = deployed(LogLevel=log_level)["Resources"][f"{route.capitalize()}Function"]["Properties"]
    lambda_level = function["LoggingConfig"]["ApplicationLogLevel"]
    environment = process_environment(
        **{
            **function["Environment"]["Variables"],
            "KYBER_MODELS_DIR": str(models_dir),
            "KYBER_DATA_CAPTURE_PERCENT": "100",
            "KYBER_SHADOW_PERCENT": "100",
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_LAMBDA_LOG_LEVEL": lambda_level,
        }
    )
    run = subprocess.run(
        [sys.executable, "-m", "tests.support.function_output", route],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return run.stdout, lambda_level


def records(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines if line.startswith("{")]


@pytest.mark.parametrize("log_level", LOG_LEVELS)
def test_metrics_capture_records_and_errors_reach_cloudwatch_and_lower_lines_do_not(log_level, challenger_models):
    # Given the /sklearn function's output at this LogLevel, shadowing every request with a challenger: a 200, a 422,
    # a 200 whose challenger fails, and a 500
    output, lambda_level = function_output("sklearn", log_level, challenger_models)
    written = records(output.splitlines())
    # When Lambda filters it at the function's ApplicationLogLevel
    kept = records(kept_by_lambda(output, lambda_level))
    # Then every metric line (the models' figures, RequestsFailed that rolls a canary back) is kept
    metric_lines = [record for record in written if "_aws" in record]
    assert {"Predictions", "RowsScored", "RequestsFailed"} <= {name for record in metric_lines for name in record}
    # and the shadow's figures, of the challenger that scored and of the one that failed
    shadow_metrics = {"ShadowRequests", "ShadowRows", "ShadowAgreedRows", "ShadowErrors", "ShadowMs"}
    assert shadow_metrics <= {name for record in metric_lines for name in record}
    assert sum(record.get("ShadowErrors", 0) for record in metric_lines) == 1
    assert [record for record in kept if "_aws" in record] == metric_lines
    # and every capture record, and every ERROR line
    captured = [record for record in written if "captureData" in record]
    assert captured
    assert [record for record in kept if "captureData" in record] == captured
    errors = [record for record in written if record.get("level") == "ERROR"]
    assert [record["message"] for record in errors] == ["request failed"]
    assert [record for record in kept if record.get("level") == "ERROR"] == errors
    # while the service's own lines below the level asked for are not
    below = [
        record
        for record in kept
        if "level" in record and logging.getLevelName(record["level"]) < logging.getLevelName(log_level)
    ]
    assert below == []
    rejected = [record for record in kept if record.get("message") == "request rejected"]
    assert len(rejected) == (logging.getLevelName(log_level) <= logging.INFO)
