"""POST /sklearn, /pytorch and /astromech answer with the label of the highest score and every score."""

from __future__ import annotations

import base64
import gc
import json
import shutil
from http import HTTPStatus

import numpy as np
import pytest

from kyber.manifest import sha256_of
from model_build.layer import build
from scripts.harness.events import json_event, load_event, proxy_event
from scripts.project import routes
from tests.support.native_models import native_probabilities
from tests.support.service import DEFAULT_ARTIFACTS, DEFAULT_LABELS, NATIVE_TOLERANCE, configure_service


@pytest.mark.parametrize("model", ["sklearn", "pytorch"])
@pytest.mark.parametrize("size", ["single", "batch"])
def test_model_route_answers_native_scores(invoke, model, size):
    # Given a sample event for the model's own route
    event = load_event(f"{model}_{size}.json")
    rows = json.loads(event["body"])["crystalData"]
    # When the handler runs
    answer = invoke(model, event)
    # Then every row gets every label's score, as the native model gives it, and the top label
    assert answer.status == HTTPStatus.OK
    assert answer.headers["Content-Type"] == "application/json"
    assert len(answer.body["prediction"]) == len(answer.body["scores"]) == len(rows)
    scores = np.array([[row[label] for label in DEFAULT_LABELS] for row in answer.body["scores"]])
    assert [list(row) for row in answer.body["scores"]] == [DEFAULT_LABELS] * len(rows)
    np.testing.assert_allclose(
        scores, native_probabilities(model, DEFAULT_ARTIFACTS, rows), rtol=0, atol=NATIVE_TOLERANCE[model]
    )
    assert answer.body["prediction"] == [DEFAULT_LABELS[i] for i in scores.argmax(axis=1)]


@pytest.mark.parametrize("model", ["sklearn", "pytorch"])
def test_astromech_answers_as_the_chosen_models_route(invoke, model):
    # Given the same rows sent to /astromech naming a model, and to that model's route
    rows = json.loads(load_event("sklearn_batch.json")["body"])["crystalData"]
    # When both are called
    chosen = invoke("astromech", json_event("astromech", {"model": model, "crystalData": rows}))
    direct = invoke(model, json_event(model, {"crystalData": rows}))
    # Then the answers are identical
    assert chosen.status == direct.status == HTTPStatus.OK
    assert chosen.body == direct.body


@pytest.mark.parametrize("route", routes())
def test_rows_keep_request_order(invoke, route):
    # Given a batch whose rows belong to different colours, and the same batch reversed
    rows = json.loads(load_event("sklearn_batch.json")["body"])["crystalData"]
    extra = {"model": "pytorch"} if route == "astromech" else {}
    # When both are classified
    forward = invoke(route, json_event(route, {**extra, "crystalData": rows}))
    backward = invoke(route, json_event(route, {**extra, "crystalData": rows[::-1]}))
    # Then the answers are the same, reversed
    assert len(set(forward.body["prediction"])) > 1
    assert backward.body["prediction"] == forward.body["prediction"][::-1]
    assert backward.body["scores"] == forward.body["scores"][::-1]


def test_json_integers_are_numbers(invoke):
    # Given the same measurements written as JSON integers and as floats
    as_ints = invoke("sklearn", json_event("sklearn", {"crystalData": [[5, 3, 1, 0]]}))
    as_floats = invoke("sklearn", json_event("sklearn", {"crystalData": [[5.0, 3.0, 1.0, 0.0]]}))
    # Then both are classified, identically
    assert as_ints.status == HTTPStatus.OK
    assert as_ints.body == as_floats.body


def test_base64_encoded_body_is_decoded(invoke):
    # Given a body API Gateway passed on base64-encoded
    body = base64.b64encode(json.dumps({"crystalData": [[0.92, 0.12, 0.31, 0.09]]}).encode()).decode()
    # When it is classified
    answer = invoke("sklearn", proxy_event("sklearn", body, base64=True))
    plain = invoke("sklearn", load_event("sklearn_single.json"))
    # Then it answers as for the plain body
    assert answer.status == HTTPStatus.OK
    assert answer.body == plain.body


def test_labels_come_from_the_labels_file(tmp_path, monkeypatch, invoke):
    # Given models delivered with other label names, in the models layer
    source = tmp_path / "artifacts"
    shutil.copytree(DEFAULT_ARTIFACTS, source)
    (source / "output_labels.txt").write_text("['sapphire', 'emerald', 'topaz']\n")
    evaluation = (source / "evaluation.csv").read_text()
    for colour, stone in [("blue", "sapphire"), ("green", "emerald"), ("yellow", "topaz")]:
        evaluation = evaluation.replace(f",{colour}\n", f",{stone}\n")
    (source / "evaluation.csv").write_text(evaluation)
    build(source, tmp_path / "models", probe_rows=1000)
    configure_service(monkeypatch, KYBER_MODELS_DIR=str(tmp_path / "models"))
    # When a droid asks /pytorch
    answer = invoke("pytorch", load_event("pytorch_batch.json"))
    # Then the answer speaks the file's labels, in its order
    assert answer.status == HTTPStatus.OK
    assert set(answer.body["prediction"]) <= {"sapphire", "emerald", "topaz"}
    assert all(list(row) == ["sapphire", "emerald", "topaz"] for row in answer.body["scores"])


def test_each_answer_is_logged_with_its_model_rows_and_the_models_own_time(invoke, capfd):
    # Given a batch for /astromech's PyTorch model
    event = load_event("astromech_pytorch_batch.json")
    rows = len(json.loads(event["body"])["crystalData"])
    capfd.readouterr()
    # When it is answered
    answer = invoke("astromech", event)
    assert answer.status == HTTPStatus.OK
    # Then one log line says which model (and which build of it) scored how many rows and in how long, and the
    # metric counts them
    records = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")]
    (served,) = [record for record in records if record.get("message") == "crystals classified"]
    assert (served["model"], served["version"], served["rows"]) == (
        "pytorch",
        answer.headers["X-Kyber-Model-Version"],
        rows,
    )
    assert isinstance(served["predict_ms"], float)
    assert 0 < served["predict_ms"] < 10_000
    (metrics,) = [record for record in records if "CrystalsClassified" in record]
    assert metrics["CrystalsClassified"] == [float(rows)]


@pytest.mark.parametrize(
    ("route", "event_name", "model"),
    [
        ("sklearn", "sklearn_single.json", "sklearn"),
        ("pytorch", "pytorch_batch.json", "pytorch"),
        ("astromech", "astromech_sklearn_single.json", "sklearn"),
        ("astromech", "astromech_pytorch_batch.json", "pytorch"),
    ],
)
def test_each_answer_names_the_model_and_its_build(invoke, built_models, route, event_name, model):
    answer = invoke(route, load_event(event_name))
    assert answer.status == HTTPStatus.OK
    assert answer.headers["X-Kyber-Model"] == model
    assert answer.headers["X-Kyber-Model-Version"] == sha256_of(built_models / f"{model}.onnx")[:12]


def test_an_error_names_no_model(invoke):
    answer = invoke("astromech", load_event("astromech_bad_model.json"))
    assert answer.status == HTTPStatus.BAD_REQUEST
    assert "X-Kyber-Model" not in answer.headers


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
