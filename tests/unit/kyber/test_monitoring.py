"""What the models see, as the handler writes it: per-label predictions, rows outside the training range and
rows of low confidence as EMF lines, and sampled requests as SageMaker data-capture records."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path

import numpy as np
import pytest

import kyber.monitoring
from kyber.manifest import TrainingRange, read_manifest
from kyber.monitoring import (
    MAX_CAPTURE_BYTES,
    SMALL_BATCH_ROWS,
    DataCapture,
    ModelMonitor,
    capture_record,
    json_fields,
)
from scripts.harness.events import json_event, load_event
from scripts.project import metrics_namespace, service_name
from tests.support.service import ROW_LIMIT, configure_service


def json_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def metric_lines(output: str, metric: str) -> list[dict]:
    return [line for line in json_lines(output) if metric in line and "_aws" in line]


def capture_lines(output: str) -> list[dict]:
    return [line for line in json_lines(output) if "captureData" in line]


def directives_by_metric(line: dict) -> dict[str, tuple[list[list[str]], str]]:
    """Each metric the line declares: its dimension sets and its unit."""
    return {
        metric["Name"]: (directive["Dimensions"], metric["Unit"])
        for directive in line["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
        if directive["Namespace"] == metrics_namespace()
    }


def outside(rows: list[list[float]], models_dir: Path) -> int:
    """Rows with a value outside the training range, counted one value at a time."""
    recorded = read_manifest(models_dir).training_range
    assert recorded is not None
    return sum(
        any(not low <= value <= high for value, low, high in zip(row, recorded.minimum, recorded.maximum, strict=True))
        for row in rows
    )


def test_an_answer_writes_each_labels_predictions_and_the_models_row_figures(invoke, capfd, models_dir):
    # Given rows inside and outside the training range, some of them ambiguous
    rows = [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3], [7.7, 3.0, 6.1, 2.3], [0.92, 0.12, 0.31, 0.09]]
    rows.append([6.3, 2.5, 4.9, 1.5])
    capfd.readouterr()
    # When /astromech answers them with the PyTorch model
    answer = invoke("astromech", json_event("astromech", {"model": "pytorch", "crystalData": rows}))
    lines = metric_lines(capfd.readouterr().out, "Predictions")
    # Then one line per label says how many rows were predicted as that label, by service, model and label
    assert answer.status == HTTPStatus.OK
    assert [line["label"] for line in lines] == ["blue", "green", "yellow"]
    predicted = Counter(answer.body["prediction"])
    for line in lines:
        assert (line["service"], line["model"]) == (service_name(), "pytorch")
        assert line["Predictions"] == predicted[line["label"]]
        assert directives_by_metric(line)["Predictions"] == ([["service", "model", "label"]], "Count")
        assert abs(line["_aws"]["Timestamp"] / 1000 - datetime.now(UTC).timestamp()) < 60
    # and the first also the model's rows, those outside the training range and those of low confidence
    low_confidence = sum(max(scores.values()) < 0.6 for scores in answer.body["scores"])
    assert 0 < low_confidence < len(rows)
    assert (lines[0]["RowsScored"], lines[0]["RowsOutsideTrainingRange"], lines[0]["LowConfidenceRows"]) == (
        len(rows),
        outside(rows, models_dir),
        low_confidence,
    )
    assert outside(rows, models_dir) == 1
    for metric in ("RowsScored", "RowsOutsideTrainingRange", "LowConfidenceRows"):
        assert directives_by_metric(lines[0])[metric] == ([["service", "model"]], "Count")
        assert all(metric not in line for line in lines[1:])


def test_labels_no_row_was_predicted_as_are_written_as_zero(invoke, capfd):
    capfd.readouterr()
    invoke("sklearn", load_event("sklearn_single.json"))
    lines = metric_lines(capfd.readouterr().out, "Predictions")
    assert {line["label"]: line["Predictions"] for line in lines} == {"blue": 1, "green": 0, "yellow": 0}


def test_the_low_confidence_threshold_is_the_functions_setting(invoke, capfd, monkeypatch):
    # Given functions that call every top score below 1 a low-confidence row
    configure_service(monkeypatch, KYBER_LOW_CONFIDENCE_THRESHOLD="1")
    capfd.readouterr()
    answer = invoke("pytorch", load_event("pytorch_batch.json"))
    (first, *_) = metric_lines(capfd.readouterr().out, "Predictions")
    assert first["LowConfidenceRows"] == len(answer.body["prediction"])


@pytest.mark.parametrize("event", ["astromech_bad_model.json", "sklearn_bad_data.json"])
def test_a_rejected_request_writes_no_prediction_figures(invoke, capfd, event):
    capfd.readouterr()
    invoke(event.split("_")[0], load_event(event))
    output = capfd.readouterr().out
    assert metric_lines(output, "Predictions") == []
    assert capture_lines(output) == []


def test_a_captured_request_is_one_sagemaker_data_capture_record(invoke, capfd, monkeypatch):
    # Given functions that capture every request
    configure_service(monkeypatch, KYBER_DATA_CAPTURE_PERCENT="100")
    event = load_event("astromech_pytorch_batch.json")
    capfd.readouterr()
    before = datetime.now(UTC)
    # When one is answered
    answer = invoke("astromech", event)
    (record,) = capture_lines(capfd.readouterr().out)
    # Then its record holds the request and the answer as they were, under API Gateway's request id
    assert set(record) == {"captureData", "eventMetadata", "eventVersion"}
    assert record["captureData"]["endpointInput"] == {
        "observedContentType": "application/json",
        "mode": "INPUT",
        "data": event["body"],
        "encoding": "JSON",
    }
    assert record["captureData"]["endpointOutput"] == {
        "observedContentType": "application/json",
        "mode": "OUTPUT",
        "data": answer.raw_body,
        "encoding": "JSON",
    }
    assert set(record["eventMetadata"]) == {"eventId", "inferenceTime"}
    assert record["eventMetadata"]["eventId"] == event["requestContext"]["requestId"]
    inference_time = datetime.fromisoformat(record["eventMetadata"]["inferenceTime"])
    assert record["eventMetadata"]["inferenceTime"].endswith("Z")
    assert before - timedelta(milliseconds=1) <= inference_time <= datetime.now(UTC)
    assert record["eventVersion"] == "0"


def test_a_base64_body_is_captured_as_sent_and_says_so(invoke, capfd, monkeypatch):
    import base64

    configure_service(monkeypatch, KYBER_DATA_CAPTURE_PERCENT="100")
    event = load_event("sklearn_single.json")
    event["body"] = base64.b64encode(event["body"].encode()).decode()
    event["isBase64Encoded"] = True
    event["headers"] = {"content-type": "application/json; charset=utf-8"}
    capfd.readouterr()
    assert invoke("sklearn", event).status == HTTPStatus.OK
    (record,) = capture_lines(capfd.readouterr().out)
    assert record["captureData"]["endpointInput"] == {
        "observedContentType": "application/json; charset=utf-8",
        "mode": "INPUT",
        "data": event["body"],
        "encoding": "BASE64",
    }


def test_without_capture_no_request_is_recorded(invoke, capfd):
    capfd.readouterr()
    for _ in range(20):
        invoke("sklearn", load_event("sklearn_single.json"))
    assert capture_lines(capfd.readouterr().out) == []


@pytest.mark.parametrize(("draw", "captured"), [(0.249, 1), (0.25, 0)])
def test_a_request_is_captured_when_its_draw_falls_in_the_share(invoke, capfd, monkeypatch, draw, captured):
    import kyber.monitoring

    configure_service(monkeypatch, KYBER_DATA_CAPTURE_PERCENT="25")
    monkeypatch.setattr(kyber.monitoring.random, "random", lambda: draw)
    capfd.readouterr()
    invoke("sklearn", load_event("sklearn_single.json"))
    assert len(capture_lines(capfd.readouterr().out)) == captured


def test_a_record_too_large_for_a_log_event_is_not_written_and_says_so(invoke, capfd, monkeypatch):
    # Given a request whose record would exceed CloudWatch Logs' 256 KiB event
    configure_service(monkeypatch, KYBER_DATA_CAPTURE_PERCENT="100")
    rows = [[5.1, 3.5, 1.4, 0.2]] * 3_000
    capfd.readouterr()
    answer = invoke("sklearn", json_event("sklearn", {"crystalData": rows}))
    output = capfd.readouterr().out
    # Then it is answered, not captured, and a log line says why
    assert answer.status == HTTPStatus.OK
    assert capture_lines(output) == []
    (skipped,) = [line for line in json_lines(output) if line.get("message", "").startswith("request not captured")]
    assert skipped["record_bytes"] > 262_144 - 26


@pytest.mark.parametrize("rows", [1, SMALL_BATCH_ROWS, SMALL_BATCH_ROWS + 1, 10_000])
@pytest.mark.parametrize("feature_count", [3, 4])
def test_the_figures_of_small_and_large_batches_are_plain_counts(rows, feature_count):
    # Given a batch drawn around a training range, with rows on its bounds, and scores of every confidence
    rng = np.random.default_rng(rows + feature_count)
    low, high = np.arange(feature_count, dtype=float), np.arange(feature_count, dtype=float) + 2
    batch = rng.uniform(low - 0.5, high + 0.5, size=(rows, feature_count))
    batch[0], batch[-1] = high, low
    probabilities = rng.dirichlet(np.ones(3), size=rows)
    probabilities[-1] = (0.3, 0.6, 0.1)  # exactly as confident as the threshold: not low
    top = probabilities.argmax(axis=1)
    monitor = ModelMonitor.create(
        namespace="N",
        service="S",
        model="m",
        labels=("a", "b", "c"),
        training_range=TrainingRange(tuple(low.tolist()), tuple(high.tolist()), source="test"),
        max_rows=ROW_LIMIT,
        low_confidence_threshold=0.6,
    )
    # When its figures are counted
    per_label, (scored, outside, low_confidence) = monitor.counts(batch, probabilities, top)
    # Then they are what counting row by row gives
    assert per_label == [sum(1 for row in probabilities if row.argmax() == label) for label in range(3)]
    assert scored == rows
    assert outside == sum(1 for row in batch if any(row < low) or any(row > high))
    assert low_confidence == sum(1 for row in probabilities if row.max() < 0.6)
    if rows > 1:
        assert 0 < outside < rows


def test_an_inference_request_writes_the_same_figures(invoke, capfd):
    from scripts.harness.events import protocol_event

    # Given an Open Inference Protocol request for the rows of a native sample event
    rows = json.loads(load_event("pytorch_batch.json")["body"])["crystalData"]
    tensor = {"name": "crystal_data", "shape": [len(rows), 4], "datatype": "FP64", "data": rows}
    headers = {"Content-Type": "application/json"}
    event = protocol_event("pytorch", "POST", "/v2/models/pytorch/infer", json.dumps({"inputs": [tensor]}), **headers)
    capfd.readouterr()
    # When both are answered
    assert invoke("pytorch", event).status == HTTPStatus.OK
    inferred = metric_lines(capfd.readouterr().out, "Predictions")
    native = invoke("pytorch", load_event("pytorch_batch.json"))
    lines = metric_lines(capfd.readouterr().out, "Predictions")
    # Then each writes one line per label, with the same counts
    assert [(line["label"], line["Predictions"]) for line in inferred] == [
        (line["label"], line["Predictions"]) for line in lines
    ]
    assert sum(line["Predictions"] for line in inferred) == inferred[0]["RowsScored"] == len(native.body["prediction"])


def test_a_request_sent_with_an_empty_content_type_is_captured_as_json(invoke, capfd, monkeypatch):
    configure_service(monkeypatch, KYBER_DATA_CAPTURE_PERCENT="100")
    event = load_event("sklearn_single.json")
    event["headers"] = {"Content-Type": ""}
    capfd.readouterr()
    assert invoke("sklearn", event).status == HTTPStatus.OK
    (record,) = capture_lines(capfd.readouterr().out)
    assert record["captureData"]["endpointInput"]["observedContentType"] == "application/json"


def test_a_request_without_api_gateways_request_id_is_recorded_with_an_empty_event_id():
    event = load_event("sklearn_single.json")
    del event["requestContext"]["requestId"]
    record = json.loads(capture_record(event, '{"prediction": []}', datetime.now(UTC)))
    assert record["eventMetadata"]["eventId"] == ""


def test_a_record_of_exactly_a_log_events_size_is_written(capsys):
    # Given an answer that makes the request's record exactly as large as a log event may hold, and one byte more
    event = load_event("sklearn_single.json")
    base = len(capture_record(event, "", datetime.now(UTC)))
    fits, too_large = "x" * (MAX_CAPTURE_BYTES - base), "x" * (MAX_CAPTURE_BYTES - base + 1)
    capture = DataCapture(percent=100.0)
    # When both are captured
    capsys.readouterr()
    capture.write(event, fits)
    capture.write(event, too_large)
    # Then only the first is written, as one line of that size
    (line,) = [line for line in capsys.readouterr().out.splitlines() if "captureData" in line]
    assert len(line.encode()) == MAX_CAPTURE_BYTES
    assert json.loads(line)["captureData"]["endpointOutput"]["data"] == fits


def test_a_fraction_of_a_percent_captures_the_draws_below_it(monkeypatch):
    # Given half a percent of the requests captured
    capture = DataCapture(percent=0.5)
    # Then a request is captured when the generator draws below 0.005, and not from there on
    for drawn, captured in ((0.0049, True), (0.005, False), (0.0051, False)):
        monkeypatch.setattr(kyber.monitoring.random, "random", lambda drawn=drawn: drawn)
        assert capture.sampled() is captured


def monitor_without_range(namespace: str, model: str, labels: tuple[str, ...]) -> ModelMonitor:
    """A monitor of service S with no training range, low confidence below 0.6."""
    return ModelMonitor.create(
        namespace=namespace,
        service="S",
        model=model,
        labels=labels,
        training_range=None,
        max_rows=ROW_LIMIT,
        low_confidence_threshold=0.6,
    )


def test_a_percent_sign_in_a_lines_fields_is_written_as_itself(capsys):
    # Given a monitor whose model and labels hold percent signs (its lines are %-formats)
    monitor = monitor_without_range(namespace="N%s", model="m%d", labels=("50%", "b"))
    assert json_fields({"model": "100%"}) == '"model":"100%%"'
    # When a request's lines are written, then each field reads as it was given
    probabilities = np.array([[0.9, 0.1]])
    capsys.readouterr()
    monitor.write(np.ones((1, 4)), probabilities, np.array([0]))
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(line["model"], line["label"]) for line in lines] == [("m%d", "50%"), ("m%d", "b")]
    assert lines[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "N%s"


def test_a_model_without_a_training_range_counts_no_rows_outside_it():
    # Given a monitor built from a manifest without a training range
    monitor = monitor_without_range(namespace="N", model="m", labels=("a", "b"))
    # When a batch far outside any range is counted, then the model's figures are its rows and its low-confidence ones
    per_label, model_figures = monitor.counts(np.full((3, 4), 1e9), np.array([[0.9, 0.1]] * 3), np.zeros(3, int))
    assert (per_label, model_figures) == ([3, 0], [3, 0])
