"""The Open Inference Protocol (KServe v2 REST) beside the native routes: server and model metadata and readiness,
and inference requests read into the same float64 batch the native routes score, answered in the protocol's JSON.

A tensor's values become one array at once (their types checked as a set, then numpy converts the flat list; nested
rows are first checked as the native routes check crystalData, by the set of their types and lengths); only a
tensor already known to be bad is walked, to say what is wrong and where.
"""

from __future__ import annotations

import math
from http import HTTPStatus
from itertools import chain, islice
from typing import Any, NamedTuple

import numpy as np
import orjson
from aws_lambda_powertools.metrics import MetricUnit

from kyber.api import Api, ProxyEvent
from kyber.errors import (
    BatchTooLargeError,
    CrystalBatchError,
    InferenceRequestError,
    ModelNotFoundError,
    NotJsonError,
)
from kyber.observability import metrics
from kyber.registry import CrystalModel
from kyber.responses import JsonResponse, json_text, quoted_labels
from kyber.service import MODEL_HEADER, MODEL_VERSION_HEADER, Classifier
from kyber.validation import collection_paused, json_kind, parse_json_body, require_object, value_problem

SERVER_NAME = "kyber-crystal-classifier"
SERVER_VERSION = "1.0.0"
PLATFORM = "onnx_onnxv1"
CLASSIFICATION = "classification"
LABELS_OUTPUT = "label"
# Triton's binary tensor extension: the JSON header's length, and the type of the bytes after it.
BINARY_HEADER = "inference-header-content-length"
BINARY_CONTENT_TYPE = "application/octet-stream"
SEND_JSON = "send the tensors as JSON (tritonclient: binary_data=False on every input and output)"

ONNX_DATATYPES = {"tensor(double)": "FP64", "tensor(float)": "FP32"}
# The largest finite value of each datatype a client may declare; every value is read as the JSON number it
# is, in double precision, so a row scores as it does on the native routes whatever the declared datatype.
# Written out rather than asked of numpy's finfo and iinfo, whose first calls are a noticeable part of an init.
FLOAT_LIMITS = {"FP16": 65504.0, "FP32": 3.4028234663852886e38, "FP64": math.inf}
INTEGER_DATATYPES = {
    **{f"INT{bits}": (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) for bits in (8, 16, 32, 64)},
    **{f"UINT{bits}": (0, 2**bits - 1) for bits in (8, 16, 32, 64)},
}
_NUMBER_TYPES = frozenset((int, float))


class TensorSpec(NamedTuple):
    name: str
    datatype: str
    shape: list[int]

    def metadata(self) -> dict[str, Any]:
        return {"name": self.name, "datatype": self.datatype, "shape": self.shape}


class InputLimits(NamedTuple):
    """What the input tensor must be: its name, the model's feature count, and the most rows a request may carry."""

    name: str
    features: int
    max_rows: int


class Inference(NamedTuple):
    """What one inference request asks: its id, its rows, and the outputs it wants (with a classification count)."""

    request_id: str | None
    batch: np.ndarray
    outputs: dict[str, int | None]


class InferenceProtocol:
    """The protocol's answers for the models a classifier serves, their metadata read from the ONNX sessions."""

    def __init__(self, classifier: Classifier) -> None:
        self.classifier = classifier
        self.models = dict(classifier.models)
        self._tensors = {name: self._tensors_of(model) for name, model in self.models.items()}

    def server_metadata(self) -> dict[str, Any]:
        return {"name": SERVER_NAME, "version": SERVER_VERSION, "extensions": [CLASSIFICATION]}

    def model(self, name: str, version: str | None = None) -> CrystalModel:
        model = self.models.get(name)
        if model is None:
            served = " and ".join(repr(served) for served in self.models)
            raise ModelNotFoundError(f"unknown model {name[:40]!r}: this route serves {served}")
        if version is not None and version != model.version:
            raise ModelNotFoundError(
                f"model {name!r} has no version {version[:40]!r}; it serves version {model.version!r}"
            )
        return model

    def tensors(self, model: CrystalModel) -> tuple[TensorSpec, TensorSpec, TensorSpec]:
        return self._tensors[model.name]

    def _tensors_of(self, model: CrystalModel) -> tuple[TensorSpec, TensorSpec, TensorSpec]:
        """The model's input, its probabilities and its labels, as the ONNX file and the labels file give them."""
        (onnx_input,) = (tensor for tensor in model.session.get_inputs() if tensor.name == model.input_name)
        (onnx_output,) = (tensor for tensor in model.session.get_outputs() if tensor.name == model.output_name)
        features, labels = self.classifier.feature_count, len(model.labels)
        return (
            TensorSpec(onnx_input.name, ONNX_DATATYPES[onnx_input.type], [-1, features]),
            TensorSpec(onnx_output.name, ONNX_DATATYPES[onnx_output.type], [-1, labels]),
            TensorSpec(LABELS_OUTPUT, "BYTES", [-1]),
        )

    def model_metadata(self, name: str, version: str | None = None) -> JsonResponse:
        model = self.model(name, version)
        model_input, *outputs = self.tensors(model)
        metadata = {
            "name": model.name,
            "versions": [model.version],
            "platform": PLATFORM,
            "inputs": [model_input.metadata()],
            "outputs": [output.metadata() for output in outputs],
        }
        return JsonResponse(HTTPStatus.OK, json_text(metadata))

    def model_ready(self, name: str, version: str | None = None) -> JsonResponse:
        model = self.model(name, version)
        return JsonResponse(HTTPStatus.OK, json_text({"name": model.name, "ready": True}))

    def infer(self, event: ProxyEvent, name: str, version: str | None = None) -> JsonResponse:
        model = self.model(name, version)
        model_input, probabilities, labels = self.tensors(model)
        require_json(event)
        with collection_paused():
            payload = require_object(
                parse_json_body(event.get("body"), is_base64_encoded=event.get("isBase64Encoded") is True)
            )
            limits = InputLimits(model_input.name, self.classifier.feature_count, self.classifier.max_rows)
            request = parse_inference_request(payload, limits, (probabilities.name, labels.name))
            del payload
        classification = request.outputs.get(probabilities.name)
        if classification is not None and classification > len(model.labels):
            raise InferenceRequestError(
                f"classification must be a whole number from 1 to {len(model.labels)}, the model's labels;"
                f" got {classification}"
            )
        try:
            scores = self.classifier.score(model, request.batch)
        except CrystalBatchError as error:
            rows = [problem["row"] for problem in error.details.get("errors", [])]
            raise CrystalBatchError(
                f"input {model_input.name!r} has {error.details.get('errorCount')} row(s) with values too large for"
                f" the {model.name} model, which has no finite scores for them (rows {rows})"
            ) from None
        body = inference_response(model, request, scores, (probabilities, labels))
        self.classifier.capture_if_sampled(event, body)
        return JsonResponse(HTTPStatus.OK, body, {MODEL_HEADER: model.name, MODEL_VERSION_HEADER: model.version})

    def add_server_routes(self, app: Api) -> None:
        """GET /v2/health/live, /v2/health/ready and /v2: the server answers as soon as its models are loaded."""
        live = JsonResponse(HTTPStatus.OK, json_text({"live": True}))
        # The specification's example says "live"; tritonclient and KServe's client read "ready".
        ready = JsonResponse(HTTPStatus.OK, json_text({"live": True, "ready": True}))
        metadata = JsonResponse(HTTPStatus.OK, json_text(self.server_metadata()))
        app.get("/v2/health/live")(lambda _event: counted(live))
        app.get("/v2/health/ready")(lambda _event: counted(ready))
        app.get("/v2")(lambda _event: counted(metadata))

    def add_model_routes(self, app: Api, model_path: str) -> None:
        """The model routes under model_path: /v2/models/<name> for one model, or /v2/models/{model} for any."""
        default = model_path.rsplit("/", 1)[-1]

        def metadata(_event: ProxyEvent, model: str = default, version: str | None = None) -> JsonResponse:
            return counted(self.model_metadata(model, version))

        def ready(_event: ProxyEvent, model: str = default, version: str | None = None) -> JsonResponse:
            return counted(self.model_ready(model, version))

        def infer(event: ProxyEvent, model: str = default, version: str | None = None) -> JsonResponse:
            return self.infer(event, model, version)

        for path in (model_path, f"{model_path}/versions/{{version}}"):
            app.get(path)(metadata)
            app.get(f"{path}/ready")(ready)
            app.post(f"{path}/infer")(infer)


def counted(answer: JsonResponse) -> JsonResponse:
    """A health or metadata answer, counted: every request leaves a metric, as the native routes' do."""
    metrics.add_metric(name="ProtocolQueries", unit=MetricUnit.Count, value=1)
    return answer


def require_json(event: ProxyEvent) -> None:
    """Refuse Triton's binary tensor extension, which says so in its headers, before reading the body."""
    headers = {str(name).lower(): value for name, value in (event.get("headers") or {}).items()}
    content_type = str(headers.get("content-type") or "").split(";")[0].strip().lower()
    if BINARY_HEADER in headers:
        raise NotJsonError(f"binary tensor data is not accepted (Inference-Header-Content-Length); {SEND_JSON}")
    if content_type == BINARY_CONTENT_TYPE:
        raise NotJsonError(f"Content-Type {BINARY_CONTENT_TYPE} is not accepted; {SEND_JSON}")


def parse_inference_request(payload: dict[str, Any], limits: InputLimits, output_names: tuple[str, str]) -> Inference:
    """The request's id, rows and outputs, or what is wrong with them. Keys and parameters the protocol
    leaves to servers (binary_data_output, binary_data, ...) are ignored: the answer is JSON."""
    # A key the protocol types is absent or of its type: null is not "absent".
    request_id = payload.get("id")
    if "id" in payload and not isinstance(request_id, str):
        raise InferenceRequestError(f"id must be a string, got {json_kind(request_id)}")
    _parameters_of(payload, "the request")
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or len(inputs) != 1 or not isinstance(inputs[0], dict):
        raise InferenceRequestError(
            f"inputs must be a list of one tensor object, {limits.name!r}; got {_described(inputs)}"
        )
    batch = parse_input(inputs[0], limits)
    outputs = parse_outputs(payload["outputs"], output_names) if "outputs" in payload else dict.fromkeys(output_names)
    return Inference(request_id, batch, outputs)


def _described(value: Any) -> str:
    if isinstance(value, list):
        return f"a list of {len(value)}" if value and all(isinstance(item, dict) for item in value) else "a list"
    return "nothing" if value is None else json_kind(value)


def parse_input(tensor: dict[str, Any], limits: InputLimits) -> np.ndarray:
    """The input tensor as an (n, features) float64 array; the features come from the model (its shape [-1, f])."""
    input_name = limits.name
    name, datatype, shape, data = (tensor.get(key) for key in ("name", "datatype", "shape", "data"))
    if name != input_name:
        raise InferenceRequestError(f"unknown input {_short(name)}: the model's one input is {input_name!r}")
    if "binary_data_size" in _parameters_of(tensor, f"input {input_name!r}"):
        raise NotJsonError(f"input {input_name!r} is binary data (binary_data_size); {SEND_JSON}")
    if not isinstance(datatype, str) or (datatype not in FLOAT_LIMITS and datatype not in INTEGER_DATATYPES):
        raise InferenceRequestError(
            f"input {input_name!r} has datatype {_short(datatype)}; send FP64 or FP32 (or FP16, INT8-64, UINT8-64)"
        )
    rows = _rows_of(shape, limits)
    if not isinstance(data, list):
        raise InferenceRequestError(f"input {input_name!r} data must be a list of numbers, got {json_kind(data)}")
    flat = _flat_values(data, rows, limits)
    batch = _as_batch(flat, rows, limits)
    _check_range(batch, flat, datatype, input_name)
    return batch


def _short(value: Any) -> str:
    return repr(value[:40]) if isinstance(value, str) else json_kind(value)


def _rows_of(shape: Any, limits: InputLimits) -> int:
    expected = f"[n, {limits.features}] with n from 1 to {limits.max_rows}"
    if not (isinstance(shape, list) and len(shape) == 2 and all(map(_is_whole, shape))):
        raise InferenceRequestError(f"input {limits.name!r} shape must be {expected}; got {_shape_text(shape)}")
    # A body holding NaN or Infinity is read by the fallback parser, which gives every number as a float.
    rows, features = (int(size) for size in shape)
    if features != limits.features or rows < 1:
        raise InferenceRequestError(f"input {limits.name!r} shape must be {expected}; got {shape}")
    if rows > limits.max_rows:
        raise BatchTooLargeError(
            f"input {limits.name!r} has {rows} rows; the limit is {limits.max_rows} rows per request",
            limit=limits.max_rows,
        )
    return rows


def _is_whole(size: Any) -> bool:
    return type(size) is int or (type(size) is float and size.is_integer())


def _shape_text(shape: Any) -> str:
    return orjson.dumps(shape).decode()[:60] if isinstance(shape, list) else json_kind(shape)


def _flat_values(data: list[Any], rows: int, limits: InputLimits) -> list[Any]:
    """The values in row-major order, from flat data or from data nested as the shape ([[f1, ...], ...])."""
    features = limits.features
    if data and type(data[0]) is list:
        if len(data) != rows or set(map(type, data)) != {list} or set(map(len, data)) != {features}:
            raise InferenceRequestError(
                f"input {limits.name!r} data nested as rows must be {rows} lists of {features} values,"
                f" as its shape [{rows}, {features}] says"
            )
        return list(chain.from_iterable(data))
    if len(data) != rows * features:
        raise InferenceRequestError(
            f"input {limits.name!r} has {len(data)} values; its shape [{rows}, {features}] needs {rows * features}"
        )
    return data


def _as_batch(flat: list[Any], rows: int, limits: InputLimits) -> np.ndarray:
    if set(map(type, flat)) <= _NUMBER_TYPES:
        batch = np.array(flat, dtype=np.float64).reshape(rows, limits.features)
        if np.isfinite(batch).all():
            return batch
    problems = [(index, problem) for index, value in enumerate(flat) if (problem := value_problem(value))]
    listed = "; ".join(
        f"row {index // limits.features} position {index % limits.features}: {problem}"
        for index, problem in islice(problems, 3)
    )
    count = len(problems)
    raise CrystalBatchError(f"input {limits.name!r} has {count} invalid value{'s' * (count != 1)}: {listed}")


def _check_range(batch: np.ndarray, flat: list[Any], datatype: str, input_name: str) -> None:
    """Values must be what the declared datatype holds: within its range, and whole numbers for integers."""
    if datatype in FLOAT_LIMITS:
        limit = FLOAT_LIMITS[datatype]
        if limit < math.inf and float(np.abs(batch).max()) > limit:
            raise CrystalBatchError(f"input {input_name!r} holds values beyond {datatype}'s range (±{limit:g})")
        return
    low, high = INTEGER_DATATYPES[datatype]
    if set(map(type, flat)) != {int} or min(flat) < low or max(flat) > high:
        raise InferenceRequestError(
            f"input {input_name!r} is declared {datatype}: every value must be a whole number from {low} to {high}"
        )


def parse_outputs(outputs: Any, names: tuple[str, str]) -> dict[str, int | None]:
    """The outputs asked for, each with its classification count (None for the tensor itself)."""
    if not isinstance(outputs, list) or not outputs or not all(isinstance(output, dict) for output in outputs):
        raise InferenceRequestError("outputs must be a non-empty list of objects, each with a name")
    asked: dict[str, int | None] = {}
    expected = " or ".join(repr(name) for name in names)
    for output in outputs:
        name = output.get("name")
        if name not in names:
            raise InferenceRequestError(f"unknown output {_short(name)}: the model's outputs are {expected}")
        asked[name] = _classification(_parameters_of(output, f"output {name!r}"), name, names[0])
    return asked


def _parameters_of(holder: dict[str, Any], what: str) -> dict[str, Any]:
    """The parameters object of the request, an input or an output; the protocol has them an object when present."""
    if "parameters" not in holder:
        return {}
    parameters = holder["parameters"]
    if not isinstance(parameters, dict):
        raise InferenceRequestError(f"the parameters of {what} must be an object, got {json_kind(parameters)}")
    return parameters


def _classification(parameters: dict[str, Any], name: str, probabilities: str) -> int | None:
    if CLASSIFICATION not in parameters:
        return None
    count = parameters[CLASSIFICATION]
    if name != probabilities:
        raise InferenceRequestError(f"classification applies to output {probabilities!r}, not {name!r}")
    if type(count) is not int or count < 1:
        raise InferenceRequestError(
            f"classification must be a whole number from 1 to the number of labels; got {_count_text(count)}"
        )
    return count


def _count_text(count: Any) -> str:
    return orjson.dumps(count).decode()[:40] if not isinstance(count, dict | list) else json_kind(count)


def inference_response(
    model: CrystalModel, request: Inference, scores: np.ndarray, outputs: tuple[TensorSpec, TensorSpec]
) -> str:
    """The response object with the outputs asked for, in the order the model lists them. Scores are written
    as the native routes write them, so the numbers are the same; the labels' JSON is built once per model."""
    probabilities, labels = outputs
    rows = len(scores)
    written = orjson.dumps(np.ascontiguousarray(scores, dtype=np.float64).ravel(), option=orjson.OPT_SERIALIZE_NUMPY)
    tensors = []
    if probabilities.name in request.outputs:
        count = request.outputs[probabilities.name]
        if count is None:
            data, shape, datatype = written, [rows, scores.shape[1]], probabilities.datatype
        else:
            data, shape, datatype = _classified(written, scores, model.labels, count), [rows, count], "BYTES"
        tensors.append(_tensor(probabilities.name, datatype, shape, data))
    if labels.name in request.outputs:
        quoted = quoted_labels(model.labels)
        data = b"[" + b",".join(quoted[scores.argmax(axis=1)].tolist()) + b"]"
        tensors.append(_tensor(labels.name, labels.datatype, [rows], data))
    response: dict[str, Any] = {"model_name": model.name, "model_version": model.version}
    if request.request_id is not None:
        response["id"] = request.request_id
    response["outputs"] = tensors
    return orjson.dumps(response).decode()


def _tensor(name: str, datatype: str, shape: list[int], data: bytes) -> dict[str, Any]:
    return {"name": name, "datatype": datatype, "shape": shape, "data": orjson.Fragment(data)}


def _classified(written: bytes, scores: np.ndarray, labels: tuple[str, ...], count: int) -> bytes:
    """The classification extension: per row, the count best "score:index:label" strings, best first."""
    texts = written[1:-1].decode().split(",")
    width = scores.shape[1]
    best = np.argsort(-scores, axis=1, kind="stable")[:, :count]
    entries = [
        f"{texts[row * width + index]}:{index}:{labels[index]}"
        for row, indices in enumerate(best.tolist())
        for index in indices
    ]
    return orjson.dumps(entries)
