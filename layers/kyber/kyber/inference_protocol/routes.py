"""The protocol's routes on a function's router: server and model metadata and readiness, and inference, each
answered from the scorer the function serves (the same models, limits and error statuses as the droids')."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from kyber.api import Api, Face, Routes, failure_body, routes_text
from kyber.core import Scorer
from kyber.errors import MAX_REPORTED_PROBLEMS, CrystalBatchError, InferenceRequestError, UnscorableRowsError
from kyber.inference_protocol.codec import ONNX_DATATYPES, InputLimits, TensorSpec
from kyber.inference_protocol.request import (
    BINARY_HEADER,
    CLASSIFICATION,
    inference_request_schema,
    parse_inference_request,
    require_json,
)
from kyber.inference_protocol.response import inference_response
from kyber.observability import metrics
from kyber.proxy_event import ProxyEvent, body_of
from kyber.registry import CrystalModel
from kyber.responses import MODEL_HEADER, MODEL_VERSION_HEADER, JsonResponse, json_text
from kyber.route_docs import (
    EXAMPLE_REQUEST_ID,
    EXAMPLE_ROWS,
    FAILURE_WHEN,
    MESSAGE,
    MODEL_HEADERS_DOC,
    Answer,
    ExampleRequest,
    JsonSchema,
    Published,
    RouteDoc,
)
from kyber.validation import collection_paused, parse_json_body, require_object

SERVER_NAME = "kyber-crystal-classifier"


SERVER_VERSION = "1.0.0"


PLATFORM = "onnx_onnxv1"


LABELS_OUTPUT = "label"


PREFIX = "/v2"
# The protocol's data models as KServe publishes them (kserve's Python package, which this layer does not hold):
# read by scripts/openapi.py when it writes openapi.json.
PUBLISHED_MODELS = "kserve.protocol.rest.v2_datamodels"
TAGS = {
    "Open Inference Protocol": "KServe's v2 REST protocol, as tritonclient[http] and KServe's InferenceRESTClient "
    "speak it, served by the same functions: /v2/models/sklearn/... by /sklearn's, /v2/models/pytorch/... by "
    "/pytorch's, the server's routes and any other model by /astromech's. JSON only (tritonclient: "
    'binary_data=False); every error is {"error": ...}. An output\'s parameters.classification = k gives, per row, '
    'the k best "score:index:label" strings.'
}
# Each kind of route: its summary, which is its 200's description too, and the published model of its 200.
KINDS = {
    "live": ("Server live: the function answers.", "ServerLiveResponse"),
    "ready": (
        "Server ready: every model is loaded (an execution environment answers only once they are).",
        "ServerReadyResponse",
    ),
    "server": ("Server metadata: name, version and extensions.", "ServerMetadataResponse"),
    "model ready": ("Model ready.", "ModelReadyResponse"),
    "metadata": ("Model metadata, read from the ONNX file and the labels.", "ModelMetadataResponse"),
    "infer": (
        "Inference: one input tensor of rows; the probabilities and the labels as outputs.",
        "InferenceResponse",
    ),
}
ANSWERS_NARROWED: dict[str, JsonSchema] = {
    "metadata": {
        "required": ["versions"],
        "properties": {"platform": {"const": PLATFORM}, "versions": {"type": "array", "minItems": 1}},
    },
    "infer": {"required": ["model_version"], "properties": {"model_version": {"type": "string"}}},
}
ERRORS_WHEN = {
    HTTPStatus.BAD_REQUEST: "The request's structure: inputs, name, shape, datatype, data not filling the shape, "
    "parameters, outputs, classification count or id.",
    HTTPStatus.NOT_FOUND: "No such model, or no such version of it.",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "More rows than the limit.",
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE: "Binary tensor data (Inference-Header-Content-Length, application/octet-stream "
    "or binary_data_size): send JSON.",
    HTTPStatus.UNPROCESSABLE_ENTITY: "The body is not a JSON object, or a value is not a finite number (or beyond "
    "the declared datatype's range, or too large for the model's own arithmetic).",
}


def _protocol_error(message: str, _details: Mapping[str, object]) -> dict[str, object]:
    return {"error": message}


def _protocol_not_found(path: str, routes: Routes) -> dict[str, object]:
    return {"error": f"no such route: {path[:100]}; the protocol's routes here are {routes_text(routes)}"}


def _error_schema(*details: str) -> JsonSchema:
    properties = {"error": MESSAGE, **{detail: {"type": "string"} for detail in details}}
    return {"type": "object", "required": list(properties), "properties": properties, "additionalProperties": False}


# The protocol's face: {"error": message}, as the protocol and its clients read errors, under /v2.
PROTOCOL = Face(prefix=PREFIX, error_body=_protocol_error, not_found=_protocol_not_found)


class InferenceProtocol:
    """The protocol's answers for the models a scorer serves, their metadata read from the ONNX sessions."""

    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer
        served = [*scorer.models.values(), *(shadow.challenger for shadow in scorer.shadows.values())]
        self._tensors = {(model.name, model.version): self._tensors_of(model) for model in served}

    def server_metadata(self) -> dict[str, Any]:
        return {"name": SERVER_NAME, "version": SERVER_VERSION, "extensions": [CLASSIFICATION]}

    def tensors(self, model: CrystalModel) -> tuple[TensorSpec, TensorSpec, TensorSpec]:
        return self._tensors[model.name, model.version]

    def _tensors_of(self, model: CrystalModel) -> tuple[TensorSpec, TensorSpec, TensorSpec]:
        """The model's input, its probabilities and its labels, as the ONNX file and the labels file give them."""
        (onnx_input,) = (tensor for tensor in model.session.get_inputs() if tensor.name == model.input_name)
        (onnx_output,) = (tensor for tensor in model.session.get_outputs() if tensor.name == model.output_name)
        features, labels = self.scorer.feature_count, len(model.labels)
        return (
            TensorSpec(onnx_input.name, ONNX_DATATYPES[onnx_input.type], [-1, features]),
            TensorSpec(onnx_output.name, ONNX_DATATYPES[onnx_output.type], [-1, labels]),
            TensorSpec(LABELS_OUTPUT, "BYTES", [-1]),
        )

    def model_metadata(self, name: str, version: str | None = None) -> JsonResponse:
        model = self.scorer.model(name, version)
        model_input, *outputs = self.tensors(model)
        metadata = {
            "name": model.name,
            "versions": list(self.scorer.versions(name)),
            "platform": PLATFORM,
            "inputs": [model_input.metadata()],
            "outputs": [output.metadata() for output in outputs],
        }
        return JsonResponse(HTTPStatus.OK, json_text(metadata))

    def model_ready(self, name: str, version: str | None = None) -> JsonResponse:
        model = self.scorer.model(name, version)
        return JsonResponse(HTTPStatus.OK, json_text({"name": model.name, "ready": True}))

    def infer(self, event: ProxyEvent, name: str, version: str | None = None) -> JsonResponse:
        model = self.scorer.model(name, version)
        model_input, probabilities, labels = self.tensors(model)
        require_json(event)
        with collection_paused():
            raw_body, is_base64_encoded = body_of(event)
            payload = require_object(parse_json_body(raw_body, is_base64_encoded=is_base64_encoded))
            limits = InputLimits(model_input.name, self.scorer.feature_count, self.scorer.max_rows)
            request = parse_inference_request(payload, limits, (probabilities.name, labels.name))
            del payload
        classification = request.outputs.get(probabilities.name)
        if classification is not None and classification > len(model.labels):
            raise InferenceRequestError(
                f"classification must be a whole number from 1 to {len(model.labels)}, the model's labels;"
                f" got {classification}"
            )
        try:
            prediction = self.scorer.predict(model, request.batch)
        except UnscorableRowsError as error:
            shown = list(error.rows[:MAX_REPORTED_PROBLEMS])
            raise CrystalBatchError(
                f"input {model_input.name!r} has {len(error.rows)} row(s) with values too large for"
                f" the {model.name} model, which has no finite scores for them (rows {shown})"
            ) from None
        body = inference_response(model, request, prediction.probabilities, (probabilities, labels))
        self.scorer.answered(event, prediction, body)
        return JsonResponse(HTTPStatus.OK, body, {MODEL_HEADER: model.name, MODEL_VERSION_HEADER: model.version})

    def add_server_routes(self, app: Api) -> None:
        """GET /v2/health/live, /v2/health/ready and /v2: the server answers as soon as its models are loaded."""
        live = JsonResponse(HTTPStatus.OK, json_text({"live": True}))
        # The specification's example says "live"; tritonclient and KServe's client read "ready".
        ready = JsonResponse(HTTPStatus.OK, json_text({"live": True, "ready": True}))
        metadata = JsonResponse(HTTPStatus.OK, json_text(self.server_metadata()))
        for path, kind, answer in (
            (f"{PREFIX}/health/live", "live", live),
            (f"{PREFIX}/health/ready", "ready", ready),
            (PREFIX, "server", metadata),
        ):
            app.get(path, PROTOCOL, partial(self.route_doc, kind, path, "GET"))(partial(_answered, answer))

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
            app.get(path, PROTOCOL, partial(self.route_doc, "metadata", path, "GET"))(metadata)
            app.get(f"{path}/ready", PROTOCOL, partial(self.route_doc, "model ready", f"{path}/ready", "GET"))(ready)
            app.post(f"{path}/infer", PROTOCOL, partial(self.route_doc, "infer", f"{path}/infer", "POST"))(infer)

    def route_doc(self, kind: str, path: str, method: str) -> RouteDoc:
        """A route of the given kind described: its parameters, request and answers, with the models, limits and
        tensors this function serves; its bodies' schemas are the protocol's published models."""
        summary, published = KINDS[kind]
        model = next(iter(self.scorer.models.values()))
        valid = {"model": model.name, "version": model.version}
        parameters: dict[str, JsonSchema] = {}
        if "{model}" in path:
            parameters["model"] = {"type": "string", "enum": list(self.scorer.models)}
        if "{version}" in path:
            versions = [version for name in self.scorer.models for version in self.scorer.versions(name)]
            parameters["version"] = {
                "type": "string",
                "enum": versions,
                "description": f"The model's {MODEL_VERSION_HEADER}.",
            }
        # What this server always sends where the published model lets it be absent; and the request's id only when
        # the request had one, where KServe's model requires it.
        narrowed = ANSWERS_NARROWED.get(kind, {})
        schema = Published(PUBLISHED_MODELS, published, narrowed, ("id",) if kind == "infer" else ())
        answers = {HTTPStatus.OK: Answer(summary, schema, ExampleRequest(parameters=valid))}
        if parameters:
            unknown = {"version": "000000000000"} if "version" in parameters else {"model": "tensorflow"}
            request = ExampleRequest(parameters={**valid, **unknown})
            answers[HTTPStatus.NOT_FOUND] = Answer(ERRORS_WHEN[HTTPStatus.NOT_FOUND], _error_schema(), request)
        operation_id = path.strip("/").replace("/", "_").replace("{", "").replace("}", "") + f"_{method.lower()}"
        if kind != "infer":
            return RouteDoc(operation_id, summary, answers, parameters=parameters, tags=TAGS)
        answers.update(self._inference_answers(model, valid, Answer(summary, schema, headers=MODEL_HEADERS_DOC)))
        model_input, probabilities, labels = self.tensors(model)
        limits = InputLimits(model_input.name, self.scorer.feature_count, self.scorer.max_rows)
        narrowed = inference_request_schema(limits, (probabilities.name, labels.name), len(model.labels))
        request_schema = Published(PUBLISHED_MODELS, "InferenceRequest", narrowed)
        return RouteDoc(operation_id, summary, dict(sorted(answers.items())), request_schema, parameters, TAGS)

    def _inference_answers(
        self, model: CrystalModel, parameters: Mapping[str, str], ok: Answer
    ) -> dict[HTTPStatus, Answer]:
        """An inference route's answers, each with the request that draws it, for the model's example rows."""
        features = self.scorer.feature_count
        data = [value for row in EXAMPLE_ROWS for value in row]
        tensor = {"name": self.tensors(model)[0].name, "shape": [len(EXAMPLE_ROWS), features], "datatype": "FP64"}
        tensor["data"] = data
        bodies = {
            HTTPStatus.OK: {"id": "droid-7", "inputs": [tensor]},
            HTTPStatus.BAD_REQUEST: {"inputs": [{**tensor, "data": data[:-1]}]},
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE: {
                "inputs": [{**tensor, "shape": [self.scorer.max_rows + 1, features]}]
            },
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE: {},
            HTTPStatus.UNPROCESSABLE_ENTITY: {"inputs": [{**tensor, "data": ["5.1", *data[1:]]}]},
        }
        headers = {HTTPStatus.UNSUPPORTED_MEDIA_TYPE: {BINARY_HEADER: "2"}}
        answers: dict[HTTPStatus, Answer] = {
            status: Answer(
                ERRORS_WHEN[status], _error_schema(), ExampleRequest(body, parameters, headers.get(status, {}))
            )
            for status, body in bodies.items()
            if status != HTTPStatus.OK
        }
        answers[HTTPStatus.OK] = replace(ok, request=ExampleRequest(bodies[HTTPStatus.OK], parameters))
        failure = failure_body(PROTOCOL, EXAMPLE_REQUEST_ID)
        answers[HTTPStatus.INTERNAL_SERVER_ERROR] = Answer(FAILURE_WHEN, _error_schema("requestId"), example=failure)
        return answers


def _answered(answer: JsonResponse, _event: ProxyEvent) -> JsonResponse:
    return counted(answer)


def counted(answer: JsonResponse) -> JsonResponse:
    """A health or metadata answer, counted: every request leaves a metric, as the native routes' do."""
    metrics.add_metric(name="ProtocolQueries", unit=MetricUnit.Count, value=1)
    return answer
