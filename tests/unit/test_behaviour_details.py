"""Details operators and clients rely on: where 422 ends and 500 begins, settings defaults, labels file
rules, base64 strictness, error wording, and the log lines and metrics dashboards are built on."""

from __future__ import annotations

import base64
import dataclasses
import gc
import hashlib
import json
import shutil
from http import HTTPStatus
from pathlib import Path

import numpy as np
import pytest

from kyber.errors import CrystalBatchError, ModelArtifactError, ModelFailureError
from kyber.labels import LabelsFileError, parse_labels
from kyber.registry import ModelRegistry
from kyber.settings import DEFAULT_MAX_ROWS, Settings, SettingsError
from scripts.lambda_events import load_event, proxy_event
from tests.conftest import SteppingClock


class NonFiniteRows:
    """An ONNX Runtime session stand-in that scores every row 1/3 each, except the given rows: NaN."""

    def __init__(self, *rows: int) -> None:
        self.rows = list(rows)

    def run(self, _: object, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        (batch,) = feeds.values()
        scores = np.full((len(batch), 3), 1 / 3)
        scores[self.rows] = np.nan
        return [scores]


@pytest.fixture
def sklearn_model(built_models: Path):
    return ModelRegistry(built_models).get("sklearn")


def test_unscorable_rows_beyond_the_verified_range_are_a_result_not_a_failure(sklearn_model):
    model = dataclasses.replace(sklearn_model, session=NonFiniteRows(1))
    beyond = sklearn_model.verified_magnitude * 2
    scores = model.score(np.array([[1.0, 1, 1, 1], [0, beyond, 0, 0], [2.0, 2, 2, 2]]))
    assert scores.unscorable_rows.tolist() == [1]
    assert np.isfinite(scores.probabilities[[0, 2]]).all()


def test_each_unscorable_row_is_judged_by_its_own_values(sklearn_model):
    # Given two rows without scores: one beyond the verified range, one well within it
    model = dataclasses.replace(sklearn_model, session=NonFiniteRows(0, 1))
    beyond = sklearn_model.verified_magnitude * 2
    # When they are scored together, then the one within the range makes it a model failure
    with pytest.raises(ModelFailureError, match="non-finite scores for values it was verified on"):
        model.score(np.array([[beyond, 0, 0, 0], [1.0, 1, 1, 1]]))


def test_a_row_at_exactly_the_verified_magnitude_was_verified(sklearn_model):
    model = dataclasses.replace(sklearn_model, session=NonFiniteRows(0))
    with pytest.raises(ModelFailureError):
        model.score(np.array([[sklearn_model.verified_magnitude, 0, 0, 0]]))


def test_settings_defaults_are_the_layer_folder_ten_thousand_rows_and_no_model_source():
    settings = Settings.from_environ({})
    assert settings.models_dir == Path("/opt/models")
    assert settings.max_rows == DEFAULT_MAX_ROWS == 10_000
    assert settings.model_source == ""
    assert settings.download_dir == Path("/tmp/kyber-models")


def test_a_row_limit_of_one_is_allowed():
    assert Settings.from_environ({"KYBER_MAX_ROWS": "1"}).max_rows == 1


@pytest.mark.parametrize(
    ("value", "reason"),
    [("0", "at least 1, got 0"), ("-5", "at least 1, got -5"), ("many", "an integer, got 'many'")],
)
def test_a_bad_row_limit_says_what_is_wrong(value, reason):
    with pytest.raises(SettingsError, match=f"KYBER_MAX_ROWS must be {reason}"):
        Settings.from_environ({"KYBER_MAX_ROWS": value})


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("'blue'", "labels file must hold a non-empty list"),
        ("[]", "labels file must hold a non-empty list"),
        ("['blue', '']", "every label must be a non-empty string"),
        ("['blue', 3]", "every label must be a non-empty string"),
        ("['blue', 'blue']", "labels must be distinct"),
        ("['blue', 'green'", "labels file is not a Python literal"),
    ],
)
def test_a_labels_file_that_is_not_a_list_of_distinct_names_is_refused(text, reason):
    with pytest.raises(LabelsFileError) as refused:
        parse_labels(text)
    assert str(refused.value) == reason


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ([], "manifest.json must be a JSON object"),
        ({"count": True}, "manifest.json: 'count' must be a number"),
        ({"count": "4"}, "manifest.json: 'count' must be a number"),
        ({"name": 4}, "manifest.json: 'name' must be a str"),
        ({}, "manifest.json has no 'count'"),
    ],
)
def test_a_manifest_field_of_the_wrong_kind_is_refused_naming_its_path_and_kind(document, reason):
    from kyber.manifest import _Fields

    def read(document: object) -> object:
        fields = _Fields(document, "manifest.json")
        return fields.get("name", str) if "name" in document else fields.number("count")

    with pytest.raises(ModelArtifactError) as refused:
        read(document)
    assert str(refused.value) == reason


def test_a_manifest_number_may_be_an_integer_or_a_float():
    from kyber.manifest import _Fields

    assert _Fields({"a": 3, "b": 2.5}, "m").number("a") == 3.0
    assert _Fields({"a": 3, "b": 2.5}, "m").number("b") == 2.5


def test_labels_may_be_a_tuple_and_surrounding_whitespace_is_ignored():
    assert parse_labels("\n ('blue', 'green', 'yellow') \n") == ("blue", "green", "yellow")


def test_base64_with_characters_outside_the_alphabet_is_refused(invoke):
    encoded = base64.b64encode(b'{"crystalData": [[5.1, 3.5, 1.4, 0.2]]}').decode()
    answer = invoke("sklearn", proxy_event("sklearn", encoded[:8] + "*" + encoded[8:], base64=True))
    assert answer.status == HTTPStatus.UNPROCESSABLE_ENTITY
    assert answer.body == {"message": "request body is not valid base64"}


@pytest.mark.parametrize(
    ("body", "kind"),
    [("[1]", "a list"), ('"text"', "a string"), ("4", "a number"), ("null", "null"), ("true", "a boolean")],
)
def test_a_body_that_is_not_an_object_is_named_by_its_kind(invoke, body, kind):
    answer = invoke("pytorch", proxy_event("pytorch", body))
    assert answer.body == {"message": f"request body must be a JSON object, got {kind}"}


@pytest.mark.parametrize(
    ("crystal_data", "message"),
    [
        ('{"a": 1}', "crystalData must be a list of rows, got an object"),
        ("NaN", "crystalData must be a list of rows, got a non-finite number"),
        ("[[1, 2, 3, 4], 5]", "crystalData has 1 invalid entry"),
        ('[[1, 2, 3, "4"], [true, 2, 3, 4]]', "crystalData has 2 invalid entries"),
    ],
)
def test_crystal_data_problems_are_worded_for_their_kind_and_count(invoke, crystal_data, message):
    answer = invoke("sklearn", proxy_event("sklearn", '{"crystalData": ' + crystal_data + "}"))
    assert answer.status == HTTPStatus.UNPROCESSABLE_ENTITY
    assert answer.body["message"] == message


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
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "KyberClassifier"
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
    handler = handler_module("sklearn")
    models = {"sklearn": dataclasses.replace(handler.classifier.models["sklearn"], session=NonFiniteRows(0))}
    handler.classifier = dataclasses.replace(handler.classifier, models=models)
    capfd.readouterr()
    response = handler.lambda_handler(load_event("sklearn_single.json"), lambda_context)
    records = log_records(capfd.readouterr().out)
    (failed,) = [record for record in records if record.get("message") == "request failed"]
    assert response["statusCode"] == HTTPStatus.INTERNAL_SERVER_ERROR
    assert failed["level"] == "ERROR"
    assert failed["request_id"] == lambda_context.aws_request_id
    assert "ModelFailureError" in failed["exception"]
    (metrics,) = [record for record in records if "RequestsFailed" in record]
    assert metrics["RequestsFailed"] == [1.0]
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "RequestsFailed", "Unit": "Count"}]


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


def test_an_unknown_model_name_is_quoted_up_to_forty_characters(invoke):
    name = "m" * 39 + "XYZ"
    answer = invoke("astromech", proxy_event("astromech", '{"model": "' + name + '", "crystalData": [[1, 2, 3, 4]]}'))
    assert answer.status == HTTPStatus.BAD_REQUEST
    assert answer.body == {"message": f'unknown model {name[:40]!r}: expected "sklearn" or "pytorch"'}


def test_the_manifest_is_written_with_two_space_indents_and_a_final_newline(default_build):
    models_dir, manifest = default_build
    text = manifest.to_json()
    assert text.startswith('{\n  "format": 2,\n  "labels": [\n    "blue",')
    assert text.endswith("}\n")
    assert (models_dir / "manifest.json").read_text() == text


def test_a_domain_error_reads_as_its_message_wherever_it_is_printed():
    error = CrystalBatchError("crystalData is empty; send at least one row", errorCount=0)
    assert str(error) == error.message == "crystalData is empty; send at least one row"
    assert error.body() == {"message": "crystalData is empty; send at least one row", "errorCount": 0}


def test_a_model_loads_duration_is_logged_in_milliseconds_to_two_decimals(models_dir, monkeypatch, caplog):
    import kyber.registry

    registry = ModelRegistry(models_dir)
    monkeypatch.setattr(kyber.registry.time, "perf_counter", SteppingClock(0.0, 0.0123456))
    registry.get("sklearn")
    (loaded,) = [record for record in caplog.records if record.getMessage() == "model loaded"]
    assert loaded.duration_ms == 12.35


def test_a_requests_model_time_is_logged_in_milliseconds_to_three_decimals(invoke, monkeypatch, capfd):
    import kyber.service

    invoke("sklearn", load_event("sklearn_single.json"))  # the init, before the clock is replaced
    capfd.readouterr()
    monkeypatch.setattr(kyber.service.time, "perf_counter", SteppingClock(0.0, 0.00123456))
    invoke("sklearn", load_event("sklearn_single.json"))
    records = log_records(capfd.readouterr().out)
    (classified,) = [record for record in records if record.get("message") == "crystals classified"]
    assert classified["predict_ms"] == 1.235
    (metrics,) = [record for record in records if "CrystalsClassified" in record]
    assert metrics["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "CrystalsClassified", "Unit": "Count"}]


def test_each_model_is_loaded_once_and_then_served_from_the_registry(models_dir, caplog):
    registry = ModelRegistry(models_dir)
    first, again, other = registry.get("pytorch"), registry.get("pytorch"), registry.get("sklearn")
    assert first is again
    assert (first.name, other.name) == ("pytorch", "sklearn")
    assert [record.model for record in caplog.records if record.getMessage() == "model loaded"] == [
        "pytorch",
        "sklearn",
    ]


def test_a_labels_file_that_does_not_parse_is_refused_naming_it_and_why(models_dir, tmp_path):
    # Given a models folder whose labels file, hashed into its manifest, holds a bare string
    copy = tmp_path / "models"
    shutil.copytree(models_dir, copy)
    (copy / "output_labels.txt").write_text("'blue'\n")
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["labels_file"]["sha256"] = hashlib.sha256(b"'blue'\n").hexdigest()
    (copy / "manifest.json").write_text(json.dumps(manifest))
    # Then the registry refuses it, naming the file and what is wrong with it
    with pytest.raises(ModelArtifactError) as refused:
        ModelRegistry(copy)
    assert str(refused.value).startswith(f"{copy / 'output_labels.txt'}: ")
    assert len(str(refused.value)) > len(f"{copy / 'output_labels.txt'}: ")


def test_scoring_values_beyond_float32_raises_no_warning(models_dir):
    import warnings

    model = ModelRegistry(models_dir).get("pytorch")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = model.score(np.array([[1e300, 1.0, 1.0, 1.0], [5.1, 3.5, 1.4, 0.2]]))
    assert scores.unscorable_rows.tolist() == [0]


def test_a_manifest_of_another_format_is_refused_saying_which_format_is_read(tmp_path):
    from kyber.manifest import Manifest

    with pytest.raises(ModelArtifactError) as refused:
        Manifest.from_json(b'{"format": 1}', tmp_path / "manifest.json")
    assert str(refused.value) == f"{tmp_path / 'manifest.json'} is not manifest format 2"


@pytest.mark.parametrize(("size", "detailed"), [(1 << 20, True), ((1 << 20) + 1, False)])
def test_a_body_of_up_to_one_mib_with_nan_is_answered_row_by_row(invoke, size, detailed):
    # Given a body with a NaN value, padded with JSON whitespace to exactly this many bytes
    body = '{"crystalData": [[NaN, 3.5, 1.4, 0.2]]}'
    body += " " * (size - len(body))
    # When it is posted
    answer = invoke("sklearn", proxy_event("sklearn", body))
    # Then up to 1 MiB the problem is named by row and position; above, the body is not strict JSON
    assert answer.status == HTTPStatus.UNPROCESSABLE_ENTITY
    assert ("errors" in answer.body) is detailed
    if detailed:
        assert answer.body["errors"][0]["row"] == 0
        assert answer.body["errors"][0]["position"] == 0
    else:
        assert answer.body["message"].startswith("request body is not valid JSON")


def test_loading_the_models_names_onnx_runtimes_cpu_provider_so_it_warns_of_nothing(models_dir, capfd):
    import warnings

    # ONNX Runtime warns, and prints an "EP Error", when it must fall back to a provider itself.
    registry = ModelRegistry(models_dir)
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        models = [registry.get("sklearn"), registry.get("pytorch")]
    out, err = capfd.readouterr()
    assert [str(warning.message) for warning in caught] == []
    assert "EP Error" not in out + err
    assert [model.session.get_providers() for model in models] == [["CPUExecutionProvider"]] * 2


def test_a_request_of_ten_thousand_rows_starts_no_garbage_collection(handler_module, lambda_context):
    # Given a warm function and a body whose parsed form is tens of thousands of lists, none in a cycle
    handler = handler_module("sklearn")
    event = proxy_event("sklearn", '{"crystalData": ' + json.dumps([[5.1, 3.5, 1.4, 0.2]] * 10_000) + "}")
    handler.lambda_handler(event, lambda_context)
    collections: list[int] = []

    def record(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    gc.collect()
    gc.callbacks.append(record)
    try:
        # When it is answered
        response = handler.lambda_handler(event, lambda_context)
    finally:
        gc.callbacks.remove(record)
    # Then the collector never walked the parsed body: it was built, checked and freed in a pause
    assert response["statusCode"] == HTTPStatus.OK
    assert collections == []
