"""The challenger in the champion's shadow, through the handlers: the requests it scores are picked from their
request id; the answer is the champion's, byte for byte, whatever the challenger does; its figures are EMF lines by
model (and by champion and challenger label); a captured request holds both outputs under one event id."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

import kyber.shadow as kyber_shadow
from kyber.invocation import answering
from kyber.manifest import read_manifest
from kyber.settings import SHADOW_MIN_REMAINING_MS
from kyber.shadow import draw, request_id_of
from scripts.harness.events import json_event, load_event, protocol_event
from scripts.project import metrics_namespace, service_name
from tests.support.challengers import challengers_scoring_with
from tests.support.fakes import ExplodingSession, NonFiniteRows, SteppingClock
from tests.support.service import configure_service

# Rows across the ore's range: the two models disagree on some of them.
ROWS = np.random.default_rng(11).uniform(0, 8, size=(200, 4)).round(2).tolist()


def json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def shadow_lines(output: str) -> list[dict[str, Any]]:
    return [line for line in json_lines(output) if "_aws" in line and any(key.startswith("Shadow") for key in line)]


def native_scores(models_dir: Path, rows: list[list[float]], challenger: bool) -> np.ndarray:
    """A model's scores from its ONNX file, run in ONNX Runtime knowing only the manifest."""
    manifest = read_manifest(models_dir)
    entry = (manifest.challengers if challenger else manifest.models)["sklearn"]
    session = ort.InferenceSession(str(models_dir / entry.file), providers=["CPUExecutionProvider"])
    (scores,) = session.run([entry.probabilities_output], {entry.input_name: np.asarray(rows, entry.input_dtype)})
    return np.asarray(scores)


def with_event_id(event: dict[str, Any], request_id: str) -> dict[str, Any]:
    event["requestContext"]["requestId"] = request_id
    return event


@pytest.fixture
def shadowed(challenger_models, monkeypatch):
    """The service over the models layer with a challenger for sklearn, the challenger shadowing every request."""

    def configure(percent: str = "100", **variables: str) -> Path:
        configure_service(
            monkeypatch, KYBER_MODELS_DIR=str(challenger_models), KYBER_SHADOW_PERCENT=percent, **variables
        )
        return challenger_models

    return configure


def answer_parts(answer) -> tuple[int, str, dict[str, str]]:
    return answer.status, answer.raw_body, answer.headers


def test_the_answer_is_the_same_with_the_shadow_on_or_off(shadowed, handler_module, lambda_context, capfd):
    # Given the same request answered by a function with the challenger off, then by one shadowing every request
    event = json_event("sklearn", {"crystalData": ROWS})
    answers = []
    for percent in ("0", "100"):
        shadowed(percent=percent)
        answers.append(handler_module("sklearn").lambda_handler(event, lambda_context))
        shadowed_lines = shadow_lines(capfd.readouterr().out)
        assert bool(shadowed_lines) is (percent == "100")
    # Then the status, the body's bytes and the headers are the same
    off, on = answers
    assert off["statusCode"] == 200
    assert on == off


def test_a_shadowed_request_counts_the_rows_each_pair_of_labels_got(shadowed, invoke, capfd):
    # Given every request shadowed by the challenger
    models_dir = shadowed()
    capfd.readouterr()
    # When /sklearn answers 200 rows
    answer = invoke("sklearn", json_event("sklearn", {"crystalData": ROWS}))
    assert answer.status == 200
    lines = shadow_lines(capfd.readouterr().out)
    # Then one line by model says a request, its rows, the rows both models gave the same label, and the time
    (request,) = [line for line in lines if "ShadowRequests" in line]
    champion = native_scores(models_dir, ROWS, challenger=False).argmax(axis=1)
    challenger = native_scores(models_dir, ROWS, challenger=True).argmax(axis=1)
    assert (request["service"], request["model"]) == (service_name(), "sklearn")
    assert (request["ShadowRequests"], request["ShadowRows"], request["ShadowErrors"]) == (1, len(ROWS), 0)
    assert request["ShadowAgreedRows"] == int(np.count_nonzero(champion == challenger))
    assert 0 < request["ShadowMs"] < 1000
    # and a line per pair of labels the rows got, flips where the labels differ, as both ONNX files score them
    labels = read_manifest(models_dir).labels
    expected = Counter((labels[first], labels[second]) for first, second in zip(champion, challenger, strict=True))
    assert any(first != second for first, second in expected), "the test rows must hold some flips"
    pairs = [line for line in lines if "champion_label" in line]
    counted = {
        (line["champion_label"], line["challenger_label"]): line.get("ShadowFlips", line.get("ShadowAgreedRows"))
        for line in pairs
    }
    assert counted == dict(expected)
    for line in pairs:
        metric = "ShadowAgreedRows" if line["champion_label"] == line["challenger_label"] else "ShadowFlips"
        (directive,) = line["_aws"]["CloudWatchMetrics"]
        assert directive == {
            "Namespace": metrics_namespace(),
            "Dimensions": [["service", "model", "champion_label", "challenger_label"]],
            "Metrics": [{"Name": metric, "Unit": "Count"}],
        }


@pytest.mark.parametrize(
    ("session", "why"), [(ExplodingSession(), "raises"), (NonFiniteRows(0), "returns NaN for a row")]
)
def test_a_challenger_that_fails_changes_nothing_of_the_answer_and_is_counted(
    shadowed, invoke, handler_module, lambda_context, capfd, session, why
):
    # Given the answer with a working challenger
    shadowed()
    event = json_event("sklearn", {"crystalData": ROWS[:5]})
    expected = answer_parts(invoke("sklearn", event))
    # When the challenger then fails (it {why})
    handler = handler_module("sklearn")
    challengers_scoring_with(handler.scorer, session)
    capfd.readouterr()
    response = handler.lambda_handler(event, lambda_context)
    # Then the answer is the same, byte for byte
    headers = {name: values[-1] for name, values in response["multiValueHeaders"].items()}
    assert (response["statusCode"], response["body"], headers) == expected
    # and the failure is counted, and logged as a warning with its details, which no client sees
    output = capfd.readouterr().out
    (request,) = [line for line in shadow_lines(output) if "ShadowRequests" in line]
    assert (request["ShadowRequests"], request["ShadowErrors"], request["ShadowRows"]) == (1, 1, 0)
    (failed,) = [line for line in json_lines(output) if line.get("message") == "challenger failed"]
    assert failed["level"] == "WARNING"
    assert "secret-path" not in response["body"]


def test_with_too_little_time_left_the_challenger_is_skipped_and_counted(shadowed, invoke, lambda_context, capfd):
    # Given every request shadowed, and an invocation with less time left than the shadow needs
    shadowed()
    expected = answer_parts(invoke("sklearn", json_event("sklearn", {"crystalData": ROWS[:5]})))
    lambda_context.get_remaining_time_in_millis = lambda: SHADOW_MIN_REMAINING_MS - 1
    capfd.readouterr()
    # When the request is answered
    answer = invoke("sklearn", json_event("sklearn", {"crystalData": ROWS[:5]}))
    # Then the answer is the same, and the challenger did not run: the request is counted as skipped
    assert answer_parts(answer) == expected
    (request,) = shadow_lines(capfd.readouterr().out)
    assert (request["ShadowRequests"], request["ShadowSkipped"]) == (1, 1)
    assert "ShadowRows" not in request
    assert "ShadowMs" not in request


def test_the_requests_shadowed_are_picked_from_their_request_id(shadowed, invoke, capfd):
    # Given a tenth of the requests shadowed
    shadowed(percent="10")
    picked = []
    # When 200 requests with their own ids are answered, each twice (as if by two execution environments)
    for number in range(200):
        request_id = f"request-{number}"
        for _ in range(2):
            invoke("sklearn", with_event_id(load_event("sklearn_single.json"), request_id))
            lines = [line for line in shadow_lines(capfd.readouterr().out) if "ShadowRequests" in line]
            picked.append((request_id, len(lines)))
    # Then a request is shadowed exactly when its id falls in the share, both times
    assert all(count == (draw(request_id) < 10) for request_id, count in picked)
    shadowed_requests = sum(count for _, count in picked) / 2
    assert 8 <= shadowed_requests <= 35


def test_the_draw_spreads_request_ids_evenly():
    draws = np.array([draw(f"{number:08x}-api-gateway-id") for number in range(20_000)])
    assert ((draws >= 0) & (draws < 100)).all()
    assert abs(np.mean(draws < 10) - 0.10) < 0.01
    assert abs(np.mean(draws < 50) - 0.50) < 0.015


def test_a_captured_request_holds_both_outputs_under_its_one_event_id(shadowed, invoke, capfd):
    # Given every request shadowed and captured
    models_dir = shadowed(KYBER_DATA_CAPTURE_PERCENT="100")
    capfd.readouterr()
    # When a request is answered
    answer = invoke("sklearn", with_event_id(json_event("sklearn", {"crystalData": ROWS[:20]}), "req-both"))
    (record,) = [line for line in json_lines(capfd.readouterr().out) if "captureData" in line]
    # Then its record holds the champion's answer as sent and the challenger's scores, under one event id
    assert record["eventMetadata"]["eventId"] == "req-both"
    assert record["captureData"]["endpointOutput"]["data"] == answer.raw_body
    shadow_output = json.loads(record["captureData"]["shadowOutput"]["data"])
    labels = read_manifest(models_dir).labels
    challenger = native_scores(models_dir, ROWS[:20], challenger=True)
    assert shadow_output["prediction"] == [labels[index] for index in challenger.argmax(axis=1)]
    assert np.allclose([[row[label] for label in labels] for row in shadow_output["scores"]], challenger, atol=1e-6)
    manifest = read_manifest(models_dir)
    shadow = record["eventMetadata"]["shadow"]
    assert shadow["model"] == "sklearn"
    assert shadow["championVersion"] == answer.headers["X-Kyber-Model-Version"]
    assert shadow["championVersion"] == manifest.models["sklearn"].sha256[:12]
    assert shadow["challengerVersion"] == manifest.challengers["sklearn"].sha256[:12]
    assert shadow["outcome"] == "scored"
    assert shadow["shadowMs"] > 0


def test_a_captured_request_whose_challenger_failed_holds_the_champions_output_and_the_failure(
    shadowed, invoke, handler_module, lambda_context, capfd
):
    shadowed(KYBER_DATA_CAPTURE_PERCENT="100")
    handler = handler_module("sklearn")
    challengers_scoring_with(handler.scorer, ExplodingSession())
    capfd.readouterr()
    response = handler.lambda_handler(load_event("sklearn_single.json"), lambda_context)
    (record,) = [line for line in json_lines(capfd.readouterr().out) if "captureData" in line]
    assert record["captureData"]["endpointOutput"]["data"] == response["body"]
    assert "shadowOutput" not in record["captureData"]
    assert record["eventMetadata"]["shadow"]["outcome"] == "failed"


def test_the_protocols_inference_is_shadowed_too(shadowed, invoke, capfd):
    shadowed()
    capfd.readouterr()
    body = json.dumps({"inputs": [{"name": "crystal_data", "shape": [2, 4], "datatype": "FP64", "data": ROWS[:2]}]})
    answer = invoke("sklearn", protocol_event("sklearn", "POST", "/v2/models/sklearn/infer", body))
    assert answer.status == 200
    (request,) = [line for line in shadow_lines(capfd.readouterr().out) if "ShadowRequests" in line]
    assert request["ShadowRows"] == 2


def test_models_without_a_challenger_write_no_shadow_figures(built_models, monkeypatch, invoke, capfd):
    configure_service(monkeypatch, KYBER_MODELS_DIR=str(built_models), KYBER_SHADOW_PERCENT="100")
    capfd.readouterr()
    for route in ("sklearn", "pytorch", "astromech"):
        event = load_event("astromech_pytorch_batch.json" if route == "astromech" else f"{route}_batch.json")
        assert invoke(route, event).status == 200
    assert shadow_lines(capfd.readouterr().out) == []


def test_only_the_challengers_model_is_shadowed_on_astromech(shadowed, invoke, capfd):
    shadowed()
    capfd.readouterr()
    invoke("astromech", load_event("astromech_pytorch_batch.json"))
    assert shadow_lines(capfd.readouterr().out) == []
    invoke("astromech", load_event("astromech_sklearn_single.json"))
    (request,) = [line for line in shadow_lines(capfd.readouterr().out) if "ShadowRequests" in line]
    assert request["model"] == "sklearn"


def test_a_challenger_file_that_differs_from_the_manifest_stops_the_init(
    challenger_models, tmp_path, monkeypatch, handler_module, capfd
):
    # Given a models layer whose challenger's ONNX file was changed after the build
    broken = tmp_path / "models"
    shutil.copytree(challenger_models, broken)
    with (broken / "challenger" / "sklearn.onnx").open("ab") as onnx:
        onnx.write(b"\0")
    configure_service(monkeypatch, KYBER_MODELS_DIR=str(broken))
    capfd.readouterr()
    # When a function starts cold, even one that serves another model, then it stops before answering
    with pytest.raises(SystemExit):
        handler_module("pytorch")
    (error,) = [line for line in json_lines(capfd.readouterr().out) if line.get("level") == "ERROR"]
    assert error["message"] == "model artifacts refused"
    assert "challenger/sklearn.onnx has sha256" in error["reason"]


def test_with_metrics_disabled_no_metric_line_is_written_and_the_shadow_still_runs(
    shadowed, handler_module, lambda_context, capfd
):
    # Given a function shadowing and capturing every request, with Powertools' metrics disabled
    shadowed(POWERTOOLS_METRICS_DISABLED="true", KYBER_DATA_CAPTURE_PERCENT="100")
    event = json_event("sklearn", {"crystalData": ROWS})
    # When it answers
    response = handler_module("sklearn").lambda_handler(event, lambda_context)
    output = capfd.readouterr().out
    # Then no line of any metric is written: Powertools' own (the cold start's too), the model figures, the shadow's
    assert response["statusCode"] == 200
    assert [line for line in json_lines(output) if "_aws" in line] == []
    # And the shadow still ran: the captured record holds both outputs
    (record,) = [line for line in json_lines(output) if "captureData" in line]
    assert record["eventMetadata"]["shadow"]["outcome"] == "scored"


# Exact lines: the shadow of the scikit-learn model run directly, its clock and wall time fixed.
NOW_S = 1_790_000_000.25


@pytest.fixture
def cold_shadow(shadowed, handler_module):
    """The sklearn model's shadow as a cold start builds it, picking percent of the requests, its challenger scoring
    with session when one is given (a fake); called in the test, so that its logs reach capfd."""

    def start(percent: str = "100", session: object = None):
        shadowed(percent=percent)
        scorer = handler_module("sklearn").scorer
        if session is not None:
            challengers_scoring_with(scorer, session)
        return scorer.shadows["sklearn"]

    return start


def freeze_time(monkeypatch, *steps: float) -> None:
    """time.time at NOW_S; time.perf_counter moving by steps (seconds), one per reading."""
    monkeypatch.setattr(kyber_shadow.time, "time", lambda: NOW_S)
    monkeypatch.setattr(kyber_shadow.time, "perf_counter", SteppingClock(*steps))


def emf(dimensions: dict[str, str], metrics: dict[str, tuple[str, Any]]) -> dict[str, Any]:
    """The EMF line of metrics (name -> (unit, value)) by dimensions, in the namespace, at NOW_S."""
    directive = {
        "Namespace": metrics_namespace(),
        "Dimensions": [list(dimensions)],
        "Metrics": [{"Name": name, "Unit": unit} for name, (unit, _) in metrics.items()],
    }
    figures = {name: value for name, (_, value) in metrics.items()}
    return {**dimensions, **figures, "_aws": {"CloudWatchMetrics": [directive], "Timestamp": int(NOW_S * 1000)}}


SKLEARN = {"service": service_name(), "model": "sklearn"}


def ran_line(rows: int, agreed: int, errors: int, milliseconds: float) -> dict[str, Any]:
    """The request line of a shadow that ran (scored or failed), at NOW_S."""
    return emf(
        SKLEARN,
        {
            "ShadowRequests": ("Count", 1),
            "ShadowRows": ("Count", rows),
            "ShadowAgreedRows": ("Count", agreed),
            "ShadowErrors": ("Count", errors),
            "ShadowMs": ("Milliseconds", milliseconds),
        },
    )


def test_a_scored_shadow_writes_its_request_line_and_a_line_per_pair_of_labels(cold_shadow, monkeypatch, capfd):
    shadow = cold_shadow()
    # Given rows the champion and the challenger label differently, and 12.3456 ms between the shadow's start and end
    rows = np.asarray(ROWS[:40])
    champion = shadow.champion.score(rows).probabilities
    challenger = shadow.challenger.score(rows).probabilities
    capfd.readouterr()
    freeze_time(monkeypatch, 0.0, 0.0123456, 0.0)
    # When the shadow runs
    outcome = shadow.run(rows, champion)
    # Then it wrote the request's line, then one line per pair of labels the rows got, in the labels' order
    labels = list(shadow.champion.labels)
    pairs = Counter(zip(champion.argmax(axis=1).tolist(), challenger.argmax(axis=1).tolist(), strict=True))
    agreed = sum(count for (first, second), count in pairs.items() if first == second)
    assert agreed < len(rows), "the rows must hold some flips"
    expected = [ran_line(len(rows), agreed, 0, 12.346)] + [
        emf(
            {**SKLEARN, "champion_label": labels[first], "challenger_label": labels[second]},
            {"ShadowAgreedRows" if first == second else "ShadowFlips": ("Count", pairs[first, second])},
        )
        for first, second in sorted(pairs)
    ]
    assert json_lines(capfd.readouterr().out) == expected
    # and its outcome holds the challenger's scores and labels
    assert (outcome.outcome, outcome.model, outcome.milliseconds) == ("scored", "sklearn", 12.346)
    assert np.array_equal(outcome.probabilities, challenger)
    assert np.array_equal(outcome.top, challenger.argmax(axis=1))
    assert outcome.metadata() == {
        "model": "sklearn",
        "championVersion": shadow.champion.version,
        "challengerVersion": shadow.challenger.version,
        "outcome": "scored",
        "shadowMs": 12.346,
    }


def test_a_failed_shadow_writes_one_request_line_with_one_error(cold_shadow, monkeypatch, capfd):
    # Given a challenger whose session raises, and 3.2514 ms until the failure is counted
    shadow = cold_shadow(session=ExplodingSession())
    rows = np.asarray(ROWS[:3])
    champion = shadow.champion.score(rows).probabilities
    capfd.readouterr()
    freeze_time(monkeypatch, 0.0, 0.0032514, 0.0)
    # When the shadow runs
    outcome = shadow.run(rows, champion)
    # Then one request line counts the error, no rows and the time; no pair of labels is written
    output = capfd.readouterr().out
    figures = [line for line in json_lines(output) if "_aws" in line]
    assert figures == [ran_line(0, 0, 1, 3.251)]
    # and the warning names the model and carries the exception
    (warning,) = [line for line in json_lines(output) if line.get("message") == "challenger failed"]
    assert (warning["level"], warning["model"]) == ("WARNING", "sklearn")
    assert "onnxruntime exploded" in warning["exception"]
    assert (outcome.outcome, outcome.probabilities, outcome.top, outcome.answer()) == ("failed", None, None, None)
    assert outcome.milliseconds == 3.251


def test_a_skipped_shadow_writes_one_request_line_and_logs_the_time_left(
    cold_shadow, monkeypatch, capfd, lambda_context
):
    shadow = cold_shadow()
    # Given an invocation with one millisecond less than the shadow needs
    rows = np.asarray(ROWS[:3])
    champion = shadow.champion.score(rows).probabilities
    lambda_context.get_remaining_time_in_millis = lambda: SHADOW_MIN_REMAINING_MS - 1
    capfd.readouterr()
    freeze_time(monkeypatch, 0.0, 0.0005006)
    # When the shadow runs
    with answering(lambda_context):
        outcome = shadow.run(rows, champion)
    # Then one line counts a request skipped, and the log says why
    output = capfd.readouterr().out
    figures = [line for line in json_lines(output) if "_aws" in line]
    assert figures == [emf(SKLEARN, {"ShadowRequests": ("Count", 1), "ShadowSkipped": ("Count", 1)})]
    (info,) = [line for line in json_lines(output) if "_aws" not in line]
    assert (info["level"], info["message"]) == ("INFO", "challenger skipped: too little time left")
    assert (info["model"], info["remaining_ms"]) == ("sklearn", SHADOW_MIN_REMAINING_MS - 1)
    assert (outcome.outcome, outcome.probabilities, outcome.milliseconds) == ("skipped", None, 0.501)


def test_with_exactly_the_time_it_needs_the_shadow_runs(cold_shadow, lambda_context):
    shadow = cold_shadow()
    rows = np.asarray(ROWS[:3])
    lambda_context.get_remaining_time_in_millis = lambda: SHADOW_MIN_REMAINING_MS
    with answering(lambda_context):
        outcome = shadow.run(rows, shadow.champion.score(rows).probabilities)
    assert outcome.outcome == "scored"


def test_when_its_figures_cannot_be_written_the_shadow_logs_it_and_returns(cold_shadow, monkeypatch, capfd):
    shadow = cold_shadow()

    # Given a shadow whose metric lines cannot be written (stdout refuses them)
    def refuse(self, lines: str) -> None:
        raise OSError("stdout closed")

    monkeypatch.setattr(kyber_shadow.Shadow, "_emit", refuse)
    rows = np.asarray(ROWS[:3])
    capfd.readouterr()
    # When it runs
    outcome = shadow.run(rows, shadow.champion.score(rows).probabilities)
    # Then it returns the failure, and both warnings name the model
    warnings = [line for line in json_lines(capfd.readouterr().out) if line.get("level") == "WARNING"]
    assert [(line["message"], line["model"]) for line in warnings] == [
        ("challenger failed", "sklearn"),
        ("shadow figures not written", "sklearn"),
    ]
    assert all("stdout closed" in line["exception"] for line in warnings)
    assert outcome.outcome == "failed"


def test_a_fraction_of_a_percent_picks_the_request_ids_that_fall_below_it(cold_shadow):
    # Given half a percent of the requests shadowed
    shadow = cold_shadow(percent="0.5")
    # Then an id drawn below 0.5 is picked, one drawn between 0.5 and 1 is not
    assert draw("request-375") < 0.5 <= draw("request-52") < 1
    assert (shadow.picks("request-375"), shadow.picks("request-52")) == (True, False)


def test_a_request_id_comes_from_api_gateway_or_else_from_lambda(lambda_context):
    # Given an invocation, and events with API Gateway's id, without one, with an empty one or one that is not text
    with answering(lambda_context):
        lambda_id = lambda_context.aws_request_id
        assert request_id_of({"requestContext": {"requestId": "gateway-id"}}) == "gateway-id"
        assert request_id_of({}) == lambda_id
        assert request_id_of({"requestContext": None}) == lambda_id
        assert request_id_of({"requestContext": {"requestId": ""}}) == lambda_id
        assert request_id_of({"requestContext": {"requestId": 7}}) == lambda_id


def test_a_challenger_with_no_finite_scores_for_a_row_is_a_failure_naming_the_rows(cold_shadow, capfd):
    # Given a challenger that scores two rows of three as NaN, rows beyond the values it was verified on
    shadow = cold_shadow(session=NonFiniteRows(0, 2))
    rows = np.full((3, 4), 1e300)
    capfd.readouterr()
    # When the shadow runs, then it failed, and the warning says how many rows had no finite scores
    assert shadow.run(rows, np.full((3, 3), 1 / 3)).outcome == "failed"
    (warning,) = [line for line in json_lines(capfd.readouterr().out) if line.get("message") == "challenger failed"]
    assert "ModelFailureError: challenger of sklearn has no finite scores for 2 rows" in warning["exception"]
