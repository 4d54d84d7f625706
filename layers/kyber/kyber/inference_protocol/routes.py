"""The protocol's routes on a function's router: server and model metadata and readiness, and inference, each
answered from the classifier the function serves (the same models, limits and error statuses as the droids')."""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from kyber.api import Api, Face
from kyber.errors import (
    MAX_REPORTED_PROBLEMS,
    CrystalBatchError,
    InferenceRequestError,
    ModelNotFoundError,
    UnscorableRowsError,
)
from kyber.inference_protocol.codec import ONNX_DATATYPES, InputLimits, TensorSpec
from kyber.inference_protocol.request import CLASSIFICATION, parse_inference_request, require_json
from kyber.inference_protocol.response import inference_response
from kyber.observability import metrics
from kyber.proxy_event import ProxyEvent, body_of
from kyber.registry import CrystalModel
from kyber.responses import JsonResponse, json_text
from kyber.service import MODEL_HEADER, MODEL_VERSION_HEADER, Classifier
from kyber.validation import collection_paused, parse_json_body, require_object

SERVER_NAME = "kyber-crystal-classifier"


SERVER_VERSION = "1.0.0"


PLATFORM = "onnx_onnxv1"


LABELS_OUTPUT = "label"


PREFIX = "/v2"
ROUTES_HINT = (
    "the protocol's routes are GET /v2, /v2/health/live, /v2/health/ready, /v2/models/{model}[/versions/{version}]"
    " and its /ready, and POST /v2/models/{model}[/versions/{version}]/infer"
)


def _protocol_error(message: str, _details: Mapping[str, object]) -> dict[str, object]:
    return {"error": message}


def _protocol_not_found(path: str) -> dict[str, object]:
    return {"error": f"no such route: {path[:100]}; {ROUTES_HINT}"}


# The protocol's face: {"error": message}, as the protocol and its clients read errors, under /v2.
PROTOCOL = Face(prefix=PREFIX, error_body=_protocol_error, not_found=_protocol_not_found)


class InferenceProtocol:
    """The protocol's answers for the models a classifier serves, their metadata read from the ONNX sessions."""

    def __init__(self, classifier: Classifier) -> None:
        self.classifier = classifier
        served = [*classifier.models.values(), *(shadow.challenger for shadow in classifier.shadows.values())]
        self._tensors = {(model.name, model.version): self._tensors_of(model) for model in served}

    def server_metadata(self) -> dict[str, Any]:
        return {"name": SERVER_NAME, "version": SERVER_VERSION, "extensions": [CLASSIFICATION]}

    def model(self, name: str, version: str | None = None) -> CrystalModel:
        """The named model: its champion, unless the version asked for is its challenger's."""
        model = self.classifier.models.get(name)
        if model is None:
            served = " and ".join(repr(served) for served in self.classifier.models)
            raise ModelNotFoundError(f"unknown model {name[:40]!r}: this route serves {served}")
        versions = self.versions(name)
        if version is None:
            return model
        if version not in versions:
            listed = " and ".join(repr(served) for served in versions)
            raise ModelNotFoundError(f"model {name!r} has no version {version[:40]!r}; it serves version {listed}")
        return versions[version]

    def versions(self, name: str) -> dict[str, CrystalModel]:
        """The named model's versions: the champion's, then its challenger's when it has one."""
        champion = self.classifier.models[name]
        shadow = self.classifier.shadows.get(name)
        served = [champion] if shadow is None else [champion, shadow.challenger]
        return {model.version: model for model in served}

    def tensors(self, model: CrystalModel) -> tuple[TensorSpec, TensorSpec, TensorSpec]:
        return self._tensors[model.name, model.version]

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
            "versions": list(self.versions(name)),
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
            raw_body, is_base64_encoded = body_of(event)
            payload = require_object(parse_json_body(raw_body, is_base64_encoded=is_base64_encoded))
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
        except UnscorableRowsError as error:
            shown = list(error.rows[:MAX_REPORTED_PROBLEMS])
            raise CrystalBatchError(
                f"input {model_input.name!r} has {len(error.rows)} row(s) with values too large for"
                f" the {model.name} model, which has no finite scores for them (rows {shown})"
            ) from None
        body = inference_response(model, request, scores, (probabilities, labels))
        self.classifier.answered(event, model, request.batch, scores, body)
        return JsonResponse(HTTPStatus.OK, body, {MODEL_HEADER: model.name, MODEL_VERSION_HEADER: model.version})

    def add_server_routes(self, app: Api) -> None:
        """GET /v2/health/live, /v2/health/ready and /v2: the server answers as soon as its models are loaded."""
        live = JsonResponse(HTTPStatus.OK, json_text({"live": True}))
        # The specification's example says "live"; tritonclient and KServe's client read "ready".
        ready = JsonResponse(HTTPStatus.OK, json_text({"live": True, "ready": True}))
        metadata = JsonResponse(HTTPStatus.OK, json_text(self.server_metadata()))
        app.get(f"{PREFIX}/health/live", PROTOCOL)(lambda _event: counted(live))
        app.get(f"{PREFIX}/health/ready", PROTOCOL)(lambda _event: counted(ready))
        app.get(PREFIX, PROTOCOL)(lambda _event: counted(metadata))

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
            app.get(path, PROTOCOL)(metadata)
            app.get(f"{path}/ready", PROTOCOL)(ready)
            app.post(f"{path}/infer", PROTOCOL)(infer)


def counted(answer: JsonResponse) -> JsonResponse:
    """A health or metadata answer, counted: every request leaves a metric, as the native routes' do."""
    metrics.add_metric(name="ProtocolQueries", unit=MetricUnit.Count, value=1)
    return answer
