"""The Open Inference Protocol (KServe v2 REST) on the three functions: health, metadata read from the ONNX files,
inference with the native routes' scores, the classification extension, and every error as {"error": ...}."""

from __future__ import annotations

import dataclasses
import json
from http import HTTPStatus
from typing import Any

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scripts.harness.events import json_event, protocol_event
from tests.support.fakes import ExplodingSession
from tests.support.service import DEFAULT_LABELS, ROW_LIMIT

MODELS = ("sklearn", "pytorch")
INPUT = "crystal_data"
ROWS = [[0.92, 0.12, 0.31, 0.09], [6.2, 2.9, 4.3, 1.3], [7.7, 3.0, 6.1, 2.3]]
FLAT = [value for row in ROWS for value in row]
VERSION_PATH = "/versions/{version}"


def infer_body(data: Any = FLAT, shape: Any = None, datatype: Any = "FP64", **fields: Any) -> dict[str, Any]:
    tensor = {"name": INPUT, "shape": [len(ROWS), 4] if shape is None else shape, "datatype": datatype, "data": data}
    return {"inputs": [tensor], **fields}


def ask(invoke, function: str, method: str, path: str, body: Any = None, **headers: str):
    raw = body if isinstance(body, str) or body is None else json.dumps(body)
    return invoke(function, protocol_event(function, method, path, raw, **headers))


def infer(invoke, model: str, body: Any, function: str | None = None, **headers: str):
    return ask(invoke, function or model, "POST", f"/v2/models/{model}/infer", body, **headers)


def native_scores(invoke, model: str, rows: list[list[Any]]) -> list[float]:
    answer = invoke(model, json_event(model, {"crystalData": rows}))
    assert answer.status == HTTPStatus.OK
    return [row[label] for row in answer.body["scores"] for label in DEFAULT_LABELS]


def test_the_server_is_live_ready_and_says_what_it_is(invoke):
    assert ask(invoke, "astromech", "GET", "/v2/health/live").body == {"live": True}
    # The clients read "ready"; the specification's example says "live": both are there
    assert ask(invoke, "astromech", "GET", "/v2/health/ready").body == {"live": True, "ready": True}
    metadata = ask(invoke, "astromech", "GET", "/v2")
    assert metadata.status == HTTPStatus.OK
    assert metadata.body == {"name": "kyber-crystal-classifier", "version": "1.0.0", "extensions": ["classification"]}


@pytest.mark.parametrize("function_of", [lambda model: model, lambda model: "astromech"], ids=["own", "astromech"])
@pytest.mark.parametrize("model", MODELS)
def test_model_metadata_is_read_from_the_onnx_file_and_the_labels(invoke, built_models, model, function_of):
    # Given the ONNX file the build made for the model
    graph = onnx.load(built_models / f"{model}.onnx").graph
    onnx_types = {tensor.name: tensor.type.tensor_type.elem_type for tensor in [*graph.input, *graph.output]}
    datatype = {onnx.TensorProto.DOUBLE: "FP64", onnx.TensorProto.FLOAT: "FP32"}
    version = invoke(model, json_event(model, {"crystalData": ROWS})).headers["X-Kyber-Model-Version"]
    # When its metadata is asked for, with and without the version
    for path in (f"/v2/models/{model}", f"/v2/models/{model}/versions/{version}"):
        answer = ask(invoke, function_of(model), "GET", path)
        # Then it names the model, its one version (the X-Kyber-Model-Version value) and its tensors
        assert answer.status == HTTPStatus.OK
        assert answer.body == {
            "name": model,
            "versions": [version],
            "platform": "onnx_onnxv1",
            "inputs": [{"name": INPUT, "datatype": datatype[onnx_types[INPUT]], "shape": [-1, 4]}],
            "outputs": [
                {"name": "probabilities", "datatype": datatype[onnx_types["probabilities"]], "shape": [-1, 3]},
                {"name": "label", "datatype": "BYTES", "shape": [-1]},
            ],
        }
    assert answer.body["inputs"][0]["datatype"] == {"sklearn": "FP64", "pytorch": "FP32"}[model]


@pytest.mark.parametrize("model", MODELS)
def test_a_model_is_ready_and_an_unknown_version_is_a_404(invoke, model):
    version = ask(invoke, model, "GET", f"/v2/models/{model}").body["versions"][0]
    for path in (f"/v2/models/{model}/ready", f"/v2/models/{model}/versions/{version}/ready"):
        assert ask(invoke, model, "GET", path).body == {"name": model, "ready": True}
    for tail in ("", "/ready", "/infer"):
        method = "POST" if tail == "/infer" else "GET"
        answer = ask(invoke, model, method, f"/v2/models/{model}/versions/000000000000{tail}", infer_body())
        assert answer.status == HTTPStatus.NOT_FOUND
        assert answer.body == {"error": f"model {model!r} has no version '000000000000'; it serves version {version!r}"}


@pytest.mark.parametrize("tail", ["", "/ready", "/infer", "/versions/1/infer"])
def test_an_unknown_model_is_a_404_from_astromech(invoke, tail):
    method = "POST" if tail.endswith("/infer") else "GET"
    answer = ask(invoke, "astromech", method, f"/v2/models/tensorflow{tail}", infer_body())
    assert answer.status == HTTPStatus.NOT_FOUND
    assert answer.body == {"error": "unknown model 'tensorflow': this route serves 'sklearn' and 'pytorch'"}
    assert answer.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("datatype", ["FP64", "FP32"])
@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested"])
@pytest.mark.parametrize("function_of", [lambda model: model, lambda model: "astromech"], ids=["own", "astromech"])
@pytest.mark.parametrize("model", MODELS)
def test_inference_gives_the_native_routes_scores_exactly(invoke, model, function_of, nested, datatype):
    # Given a batch of random rows, and the native route's scores for them
    rows = np.random.default_rng(18).uniform(0, 8, size=(50, 4)).round(4).tolist()
    data = rows if nested else [value for row in rows for value in row]
    # When the same rows are sent as a tensor
    answer = infer(invoke, model, infer_body(data, [50, 4], datatype, id="droid-7"), function_of(model))
    # Then every score is the same number, and each label the native prediction
    assert answer.status == HTTPStatus.OK
    probabilities, labels = answer.body["outputs"]
    assert probabilities["data"] == native_scores(invoke, model, rows)
    assert probabilities["shape"] == [50, 3]
    assert probabilities["datatype"] == {"sklearn": "FP64", "pytorch": "FP32"}[model]
    native = invoke(model, json_event(model, {"crystalData": rows})).body["prediction"]
    assert labels == {"name": "label", "datatype": "BYTES", "shape": [50], "data": native}
    assert answer.body["id"] == "droid-7"
    assert answer.body["model_name"] == model
    assert answer.body["model_version"] == answer.headers["X-Kyber-Model-Version"]


@pytest.mark.parametrize("datatype", ["INT32", "INT64", "UINT8"])
def test_integer_tensors_are_scored_as_the_same_numbers(invoke, datatype):
    rows = [[5, 3, 1, 0], [6, 2, 4, 1]]
    answer = infer(invoke, "sklearn", infer_body([v for row in rows for v in row], [2, 4], datatype))
    assert answer.status == HTTPStatus.OK
    assert answer.body["outputs"][0]["data"] == native_scores(invoke, "sklearn", rows)


def test_without_an_id_the_answer_has_none_but_always_the_model_and_its_version(invoke):
    answer = infer(invoke, "pytorch", infer_body())
    assert list(answer.body) == ["model_name", "model_version", "outputs"]


@pytest.mark.parametrize(
    ("asked", "names"),
    [
        ([{"name": "label"}], ["label"]),
        ([{"name": "probabilities"}], ["probabilities"]),
        ([{"name": "label"}, {"name": "probabilities"}], ["probabilities", "label"]),
    ],
)
def test_only_the_outputs_asked_for_are_answered(invoke, asked, names):
    answer = infer(invoke, "sklearn", infer_body(outputs=asked))
    assert [output["name"] for output in answer.body["outputs"]] == names


@pytest.mark.parametrize("count", [1, 2, 3])
@pytest.mark.parametrize("model", MODELS)
def test_classification_gives_the_best_scores_as_score_index_label(invoke, model, count):
    # Given the native scores of the rows
    scores = np.array(native_scores(invoke, model, ROWS)).reshape(len(ROWS), 3)
    # When the classification extension asks for the count best
    outputs = [{"name": "probabilities", "parameters": {"classification": count, "binary_data": False}}]
    answer = infer(invoke, model, infer_body(outputs=outputs))
    # Then each row has count strings, best first, with the native score, its index and its label
    (tensor,) = answer.body["outputs"]
    assert (tensor["name"], tensor["datatype"], tensor["shape"]) == ("probabilities", "BYTES", [len(ROWS), count])
    expected = [
        (float(row[index]), int(index), DEFAULT_LABELS[index])
        for row in scores
        for index in np.argsort(-row, kind="stable")[:count]
    ]
    entries = [entry.split(":") for entry in tensor["data"]]
    assert [(float(score), int(index), label) for score, index, label in entries] == expected


def test_keys_and_parameters_left_to_servers_are_ignored(invoke):
    # tritonclient asks for binary outputs unless told otherwise; the answer is JSON all the same
    plain = infer(invoke, "sklearn", infer_body())
    body = infer_body(
        parameters={"binary_data_output": True, "priority": 1},
        outputs=[{"name": "probabilities", "parameters": {"binary_data": True}}, {"name": "label"}],
        sequence="ignored",
    )
    body["inputs"][0]["parameters"] = {"content_type": "np"}
    answer = infer(invoke, "sklearn", body)
    assert answer.status == HTTPStatus.OK
    assert answer.body == plain.body


TOO_MANY = ROW_LIMIT + 1
# A request's fault, the status, and what the client is told.
BAD_REQUESTS: dict[str, tuple[Any, HTTPStatus, str]] = {
    "not JSON": ("{inputs", HTTPStatus.UNPROCESSABLE_ENTITY, "request body is not valid JSON: "),
    "empty": ("", HTTPStatus.UNPROCESSABLE_ENTITY, "request body is empty; expected a JSON object"),
    "a list": ("[]", HTTPStatus.UNPROCESSABLE_ENTITY, "request body must be a JSON object, got a list"),
    "no inputs": (
        {},
        HTTPStatus.BAD_REQUEST,
        "inputs must be a list of one tensor object, 'crystal_data'; got nothing",
    ),
    "two inputs": (
        {"inputs": [infer_body()["inputs"][0]] * 2},
        HTTPStatus.BAD_REQUEST,
        "inputs must be a list of one tensor object, 'crystal_data'; got a list of 2",
    ),
    "id not a string": (infer_body(id=7), HTTPStatus.BAD_REQUEST, "id must be a string, got a number"),
    "unknown input": (
        {"inputs": [{**infer_body()["inputs"][0], "name": "x"}]},
        HTTPStatus.BAD_REQUEST,
        "unknown input 'x': the model's one input is 'crystal_data'",
    ),
    "BOOL": (
        infer_body(datatype="BOOL"),
        HTTPStatus.BAD_REQUEST,
        "input 'crystal_data' has datatype 'BOOL'; send FP64",
    ),
    "BYTES": (infer_body(datatype="BYTES"), HTTPStatus.BAD_REQUEST, "input 'crystal_data' has datatype 'BYTES'"),
    "datatype an object": (
        infer_body(datatype={}),
        HTTPStatus.BAD_REQUEST,
        "input 'crystal_data' has datatype an object",
    ),
    "datatype a list": (infer_body(datatype=["FP64"]), HTTPStatus.BAD_REQUEST, "has datatype a list"),
    "no datatype": (infer_body(datatype=None), HTTPStatus.BAD_REQUEST, "input 'crystal_data' has datatype null"),
    "3 features": (
        infer_body(shape=[4, 3]),
        HTTPStatus.BAD_REQUEST,
        f"input 'crystal_data' shape must be [n, 4] with n from 1 to {ROW_LIMIT}; got [4, 3]",
    ),
    "0 rows": (infer_body(shape=[0, 4]), HTTPStatus.BAD_REQUEST, f"shape must be [n, 4] with n from 1 to {ROW_LIMIT}"),
    "-1 rows": (infer_body(shape=[-1, 4]), HTTPStatus.BAD_REQUEST, "shape must be [n, 4]"),
    "one dimension": (infer_body(shape=[12]), HTTPStatus.BAD_REQUEST, "got [12]"),
    "shape not a list": (infer_body(shape="3x4"), HTTPStatus.BAD_REQUEST, "got a string"),
    "too many rows": (
        infer_body(shape=[TOO_MANY, 4]),
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        f"input 'crystal_data' has {TOO_MANY} rows; the limit is {ROW_LIMIT} rows per request",
    ),
    "too few values": (
        infer_body(FLAT[:-1]),
        HTTPStatus.BAD_REQUEST,
        "input 'crystal_data' has 11 values; its shape [3, 4] needs 12",
    ),
    "too many values": (infer_body([*FLAT, 1.0]), HTTPStatus.BAD_REQUEST, "has 13 values; its shape [3, 4] needs 12"),
    "nested rows short": (
        infer_body([ROWS[0], ROWS[1][:3], ROWS[2]]),
        HTTPStatus.BAD_REQUEST,
        "input 'crystal_data' data nested as rows must be 3 lists of 4 values, as its shape [3, 4] says",
    ),
    "nested too deep": (infer_body([[ROWS]]), HTTPStatus.BAD_REQUEST, "data nested as rows must be 3 lists"),
    "data not a list": (infer_body({"x": 1}), HTTPStatus.BAD_REQUEST, "data must be a list of numbers, got an object"),
    "a string value": (
        infer_body([*FLAT[:5], "2.9", *FLAT[6:]]),
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "input 'crystal_data' has 1 invalid value: row 1 position 1: a string is not a number",
    ),
    "booleans and null": (
        infer_body([True, *FLAT[1:10], None, False]),
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "has 3 invalid values: row 0 position 0: a boolean is not a number; row 2 position 2: null is not a number;"
        " row 2 position 3: a boolean is not a number",
    ),
    "NaN": (
        json.dumps(infer_body()).replace("0.31", "NaN"),
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "has 1 invalid value: row 0 position 2: NaN is not a finite number",
    ),
    "Infinity": (
        json.dumps(infer_body()).replace("6.2", "-Infinity"),
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "-Infinity is not a finite number",
    ),
    "beyond a double": (
        json.dumps(infer_body()).replace("6.2", "1e400"),
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "number overflows a double",
    ),
    "beyond FP32": (
        infer_body([1e39, *FLAT[1:]], datatype="FP32"),
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "input 'crystal_data' holds values beyond FP32's range (±3.40282e+38)",
    ),
    "fractions as INT32": (
        infer_body(datatype="INT32"),
        HTTPStatus.BAD_REQUEST,
        "input 'crystal_data' is declared INT32: every value must be a whole number from -2147483648 to 2147483647",
    ),
    "beyond UINT8": (infer_body([256] * 12, datatype="UINT8"), HTTPStatus.BAD_REQUEST, "whole number from 0 to 255"),
    "unknown output": (
        infer_body(outputs=[{"name": "logits"}]),
        HTTPStatus.BAD_REQUEST,
        "unknown output 'logits': the model's outputs are 'probabilities' or 'label'",
    ),
    "outputs empty": (
        infer_body(outputs=[]),
        HTTPStatus.BAD_REQUEST,
        "outputs must be a non-empty list of objects, each with a name",
    ),
    "classification 0": (
        infer_body(outputs=[{"name": "probabilities", "parameters": {"classification": 0}}]),
        HTTPStatus.BAD_REQUEST,
        "classification must be a whole number from 1 to the number of labels; got 0",
    ),
    "classification 4": (
        infer_body(outputs=[{"name": "probabilities", "parameters": {"classification": 4}}]),
        HTTPStatus.BAD_REQUEST,
        "classification must be a whole number from 1 to 3, the model's labels; got 4",
    ),
    "classification text": (
        infer_body(outputs=[{"name": "probabilities", "parameters": {"classification": "2"}}]),
        HTTPStatus.BAD_REQUEST,
        'got "2"',
    ),
    "classification true": (
        infer_body(outputs=[{"name": "probabilities", "parameters": {"classification": True}}]),
        HTTPStatus.BAD_REQUEST,
        "got true",
    ),
    "classification of labels": (
        infer_body(outputs=[{"name": "label", "parameters": {"classification": 1}}]),
        HTTPStatus.BAD_REQUEST,
        "classification applies to output 'probabilities', not 'label'",
    ),
    "request parameters a list": (
        infer_body(parameters=[1]),
        HTTPStatus.BAD_REQUEST,
        "the parameters of the request must be an object, got a list",
    ),
    "input parameters a string": (
        {"inputs": [{**infer_body()["inputs"][0], "parameters": "binary"}]},
        HTTPStatus.BAD_REQUEST,
        "the parameters of input 'crystal_data' must be an object, got a string",
    ),
    "output parameters a list": (
        infer_body(outputs=[{"name": "probabilities", "parameters": [None, None]}]),
        HTTPStatus.BAD_REQUEST,
        "the parameters of output 'probabilities' must be an object, got a list",
    ),
    "request parameter a list": (
        infer_body(parameters={"priority": [1]}),
        HTTPStatus.BAD_REQUEST,
        "the parameters of the request must be strings, numbers or booleans; 'priority' is a list",
    ),
    "input parameter null": (
        {"inputs": [{**infer_body()["inputs"][0], "parameters": {"content_type": None}}]},
        HTTPStatus.BAD_REQUEST,
        "the parameters of input 'crystal_data' must be strings, numbers or booleans; 'content_type' is null",
    ),
    "output parameter an object": (
        infer_body(outputs=[{"name": "label", "parameters": {"binary_data": {}}}]),
        HTTPStatus.BAD_REQUEST,
        "the parameters of output 'label' must be strings, numbers or booleans; 'binary_data' is an object",
    ),
    "id null": (infer_body(id=None), HTTPStatus.BAD_REQUEST, "id must be a string, got null"),
    "outputs null": (infer_body(outputs=None), HTTPStatus.BAD_REQUEST, "outputs must be a non-empty list of objects"),
    "output parameters null": (
        infer_body(outputs=[{"name": "probabilities", "parameters": None}]),
        HTTPStatus.BAD_REQUEST,
        "the parameters of output 'probabilities' must be an object, got null",
    ),
    "binary input": (
        {"inputs": [{**infer_body()["inputs"][0], "parameters": {"binary_data_size": 48}}]},
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
        "input 'crystal_data' is binary data (binary_data_size); send the tensors as JSON (tritonclient:"
        " binary_data=False on every input and output)",
    ),
}


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(("body", "status", "message"), BAD_REQUESTS.values(), ids=BAD_REQUESTS.keys())
def test_a_bad_request_is_a_4xx_whose_body_is_only_the_error(invoke, model, body, status, message):
    answer = infer(invoke, model, body)
    assert answer.status == status
    assert list(answer.body) == ["error"]
    assert message in answer.body["error"]
    assert answer.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "headers",
    [{"Inference-Header-Content-Length": "120"}, {"content-type": "application/octet-stream"}],
    ids=["binary header", "octet-stream"],
)
def test_binary_tensor_bodies_are_415_saying_to_send_json(invoke, headers):
    answer = infer(invoke, "pytorch", '{"inputs": []}\x00\x01\x02', **headers)
    assert answer.status == HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    assert (
        "send the tensors as JSON (tritonclient: binary_data=False on every input and output)" in answer.body["error"]
    )


@pytest.mark.parametrize("value", [1e39, -1e300])
def test_values_too_large_for_the_pytorch_models_arithmetic_are_422_naming_the_row(invoke, value):
    answer = infer(invoke, "pytorch", infer_body([*FLAT[:4], value, *FLAT[5:]]))
    assert answer.status == HTTPStatus.UNPROCESSABLE_ENTITY
    assert answer.body == {
        "error": "input 'crystal_data' has 1 row(s) with values too large for the pytorch model, which has no finite"
        " scores for them (rows [1])"
    }


def test_exactly_the_row_limit_is_served(invoke):
    rows = ROW_LIMIT
    answer = infer(invoke, "sklearn", infer_body([0.5] * rows * 4, [rows, 4]))
    assert answer.status == HTTPStatus.OK
    assert answer.body["outputs"][0]["shape"] == [rows, 3]


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [("GET", "/v2/models/sklearn/infer", "POST"), ("POST", "/v2/models/sklearn", "GET"), ("DELETE", "/v2", "GET")],
)
def test_another_method_is_a_405_in_the_protocols_shape(invoke, method, path, allowed):
    function = "astromech" if path == "/v2" else "sklearn"
    answer = ask(invoke, function, method, path, infer_body())
    assert answer.status == HTTPStatus.METHOD_NOT_ALLOWED
    assert answer.headers["Allow"] == allowed
    assert answer.body == {"error": f"{method} is not allowed on {path}; use {allowed}"}


def test_a_path_under_v2_the_function_lacks_is_a_404_in_the_protocols_shape_naming_the_routes_it_has(invoke):
    answer = ask(invoke, "sklearn", "GET", "/v2/repository/index")
    assert answer.status == HTTPStatus.NOT_FOUND
    model, version = "/v2/models/sklearn", "/v2/models/sklearn/versions/{version}"
    assert answer.body == {
        "error": "no such route: /v2/repository/index; the protocol's routes here are "
        f"GET {model}, {model}/ready, {version}, {version}/ready and POST {model}/infer, {version}/infer"
    }


def test_the_server_function_names_the_servers_routes_when_a_path_under_v2_is_not_one(invoke):
    answer = ask(invoke, "astromech", "POST", "/v2/health")
    assert answer.status == HTTPStatus.NOT_FOUND
    assert answer.body["error"].startswith(
        "no such route: /v2/health; the protocol's routes here are GET /v2/health/live, /v2/health/ready, /v2, "
        "/v2/models/{model},"
    )
    assert answer.body["error"].endswith(
        "and POST /v2/models/{model}/infer, /v2/models/{model}/versions/{version}/infer"
    )


@pytest.mark.parametrize("function", ["pytorch", "astromech"])
def test_a_failing_model_is_the_generic_500_with_the_request_id(handler_module, lambda_context, function):
    # Given a function whose pytorch model fails
    handler = handler_module(function)
    models = handler.protocol.scorer.models
    models["pytorch"] = dataclasses.replace(models["pytorch"], session=ExplodingSession())
    # When it is asked for an inference
    event = protocol_event(function, "POST", "/v2/models/pytorch/infer", json.dumps(infer_body()))
    response = handler.lambda_handler(event, lambda_context)
    # Then it is a 500 with the request id, and nothing of the failure
    assert response["statusCode"] == HTTPStatus.INTERNAL_SERVER_ERROR
    assert json.loads(response["body"]) == {
        "error": "internal error while predicting; quote the requestId when reporting it",
        "requestId": lambda_context.aws_request_id,
    }


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6)
)
json_values = st.recursive(
    json_scalars, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
)
tensors = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from([INPUT, "x"]) | json_values,
        "shape": st.lists(st.integers(-2, 12_000), max_size=3) | json_values,
        "datatype": st.sampled_from(["FP64", "FP32", "FP16", "INT64", "UINT8", "BOOL"]) | json_values,
        "data": st.lists(st.floats(allow_nan=False) | st.integers(-300, 300), max_size=16) | json_values,
        "parameters": json_values,
    },
)
requests = st.fixed_dictionaries(
    {},
    optional={
        "id": json_values,
        "inputs": st.lists(tensors, max_size=2) | json_values,
        "outputs": st.lists(
            st.fixed_dictionaries(
                {"name": st.sampled_from(["probabilities", "label", "y"])},
                optional={"parameters": st.fixed_dictionaries({"classification": json_values})},
            ),
            max_size=3,
        )
        | json_values,
        "parameters": json_values,
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=requests.map(json.dumps) | st.text(max_size=30))
def test_any_inference_request_gets_a_200_or_a_4xx_whose_body_is_only_the_error(invoke, body):
    for model in MODELS:
        answer = infer(invoke, model, body, "astromech")
        if answer.status == HTTPStatus.OK:
            assert answer.body["model_name"] == model
            continue
        assert 400 <= answer.status < 500, (body, answer.body)
        assert list(answer.body) == ["error"]
        assert isinstance(answer.body["error"], str)
        assert answer.body["error"]
