"""The log lines and metrics operators build dashboards and alarms on, read from the handler's real output."""

from __future__ import annotations

import dataclasses
import json
from http import HTTPStatus

from kyber.registry import ModelRegistry
from scripts.harness.events import load_event
from scripts.project import metrics_namespace
from tests.support.fakes import NonFiniteRows, SteppingClock


def log_records(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_a_rejected_request_is_logged_with_status_and_reason_and_counted(invoke, capfd):
    capfd.readouterr()
    answer = invoke("astromech", load_event("astromech_bad_model.json"))
    records = log_records(capfd.readouterr().out)
    (rejected,) = [record for record in records if record.get("message") == "request rejected"]
    assert rejected["level"] == "INFO"
    assert rejected["status"] == answer.status == HTTPStatus.BAD_REQUEST
    assert rejected["reason"] == answer.body["message"]
    (metrics,) = [record for record in records if "RequestsRejected" in record]
    assert metrics["RequestsRejected"] == [1.0]
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"] == metrics_namespace()
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "RequestsRejected", "Unit": "Count"}]
    assert "CrystalsClassified" not in metrics


def test_a_request_for_a_route_the_function_lacks_is_logged_as_rejected_and_counted(invoke, capfd):
    # Given an event for a path the function has no route for
    event = load_event("sklearn_single.json")
    event["path"] = "/sklearn/v2"
    capfd.readouterr()
    # When it is answered, then the 404 is logged with the method and path asked for, and counted
    answer = invoke("sklearn", event)
    records = log_records(capfd.readouterr().out)
    (rejected,) = [record for record in records if record.get("message") == "request rejected"]
    assert rejected["status"] == answer.status == HTTPStatus.NOT_FOUND
    assert rejected["reason"] == "no route for POST /sklearn/v2"
    (metrics,) = [record for record in records if "RequestsRejected" in record]
    assert metrics["RequestsRejected"] == [1.0]


def test_a_failed_request_is_logged_with_its_traceback_and_counted(handler_module, lambda_context, capfd):
    lambda_context.function_name, lambda_context.function_version = "kyber-sklearn", "12"
    handler = handler_module("sklearn")
    models = handler.scorer.models
    models["sklearn"] = dataclasses.replace(models["sklearn"], session=NonFiniteRows(0))
    capfd.readouterr()
    response = handler.lambda_handler(load_event("sklearn_single.json"), lambda_context)
    records = log_records(capfd.readouterr().out)
    (failed,) = [record for record in records if record.get("message") == "request failed"]
    assert response["statusCode"] == HTTPStatus.INTERNAL_SERVER_ERROR
    assert failed["level"] == "ERROR"
    assert failed["request_id"] == lambda_context.aws_request_id
    assert "ModelFailureError" in failed["exception"]
    # and counted on a line of its own, by the function and the version that answered
    (metrics,) = [record for record in records if "RequestsFailed" in record]
    assert metrics["RequestsFailed"] == [1.0]
    assert metrics["_aws"]["CloudWatchMetrics"] == [
        {
            "Namespace": metrics_namespace(),
            "Dimensions": [["function_name", "function_version", "service"]],
            "Metrics": [{"Name": "RequestsFailed", "Unit": "Count"}],
        }
    ]
    assert (metrics["function_name"], metrics["function_version"]) == ("kyber-sklearn", "12")


def test_a_model_load_is_logged_with_its_file_hashes_time_and_measured_accuracy(handler_module, built_models, capfd):
    capfd.readouterr()
    handler_module("pytorch")
    (loaded,) = [record for record in log_records(capfd.readouterr().out) if record.get("message") == "model loaded"]
    manifest = json.loads((built_models / "manifest.json").read_text())["models"]["pytorch"]
    assert loaded["model"] == "pytorch"
    assert loaded["artifact"] == str(built_models / "pytorch.onnx")
    assert loaded["sha256"] == manifest["sha256"]
    assert loaded["source_sha256"] == manifest["source"]["sha256"]
    assert loaded["duration_ms"] > 0
    card = json.loads((built_models / "pytorch.model-card.json").read_text())
    (accuracy,) = [m["value"] for m in card["quantitative_analysis"]["performance_metrics"] if m["type"] == "accuracy"]
    assert f"{loaded['accuracy']:.4f}" == accuracy
    assert loaded["accuracy"] == manifest["evaluation"]["accuracy"]
    assert loaded["evaluation_rows"] == manifest["evaluation"]["rows"] == 45


def test_a_model_loads_duration_is_logged_in_milliseconds_to_two_decimals(models_dir, monkeypatch, caplog):
    import kyber.registry

    registry = ModelRegistry(models_dir)
    monkeypatch.setattr(kyber.registry.time, "perf_counter", SteppingClock(0.0, 0.0123456))
    registry.get("sklearn")
    (loaded,) = [record for record in caplog.records if record.getMessage() == "model loaded"]
    assert loaded.duration_ms == 12.35


def test_a_requests_model_time_is_logged_in_milliseconds_to_three_decimals(invoke, monkeypatch, capfd):
    import kyber.core

    invoke("sklearn", load_event("sklearn_single.json"))  # the init, before the clock is replaced
    capfd.readouterr()
    monkeypatch.setattr(kyber.core.time, "perf_counter", SteppingClock(0.0, 0.00123456))
    invoke("sklearn", load_event("sklearn_single.json"))
    records = log_records(capfd.readouterr().out)
    (classified,) = [record for record in records if record.get("message") == "crystals classified"]
    assert classified["predict_ms"] == 1.235
    (metrics,) = [record for record in records if "CrystalsClassified" in record]
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "CrystalsClassified", "Unit": "Count"}]
