"""The API's OpenAPI 3.1 document, generated from the code that serves it.

Each route comes from a function's own kyber.api.Api; what its request may hold (the feature count, the row
limit, the model names) from the endpoint that function built at its init; the statuses from the error
table of kyber.api; what API Gateway itself checks in front of them (the API key, throttling and
quota) from template.yaml. `make openapi` writes openapi.json after `sam build`; by hand, in the functions'
environment: `python -m scripts.project exec python -m scripts.openapi [--write]` prints the document, or writes it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
from http import HTTPStatus
from types import ModuleType
from typing import Any

from kyber.api import INTERNAL_ERROR_MESSAGE, STATUS_BY_ERROR
from kyber.errors import MAX_REPORTED_PROBLEMS
from kyber.inference_protocol import FLOAT_LIMITS, INTEGER_DATATYPES, PROTOCOL, SERVER_VERSION, InferenceProtocol
from kyber.registry import CrystalModel, get_registry
from kyber.service import MODEL_HEADER, MODEL_VERSION_HEADER
from kyber.settings import get_settings
from scripts.harness.events import FakeLambdaContext, json_event, protocol_event
from scripts.project import REPO, literal, resources, routes, template

DOCUMENT = REPO / "openapi.json"
SAMPLE_ROWS = [[0.92, 0.12, 0.31, 0.09], [6.2, 2.9, 4.3, 1.3]]
# The default models' answer to SAMPLE_ROWS, recorded from their handlers: live scores can
# differ in their last digits between CPUs, and the document must be the same wherever it is generated.
RECORDED_ANSWER: dict[str, dict[str, Any]] = {
    "sklearn": {
        "prediction": ["blue", "green"],
        "scores": [
            {"blue": 0.9986481188413271, "green": 0.0013518784805266163, "yellow": 2.678146301158067e-9},
            {"blue": 0.011567800612436263, "green": 0.9059793301436573, "yellow": 0.08245286924390652},
        ],
    },
    "pytorch": {
        "prediction": ["blue", "green"],
        "scores": [
            {"blue": 0.7910650372505188, "green": 0.2010750025510788, "yellow": 0.007859998382627964},
            {"blue": 0.003284465055912733, "green": 0.9932870268821716, "yellow": 0.003428508760407567},
        ],
    },
}

# API Gateway's own answers when it refuses a request before any function runs (its default gateway
# responses), for the deployed stack; sam local checks neither keys nor limits.
GATEWAY_ANSWERS = {
    "403": (
        "Deployed API only: the x-api-key header is missing or holds no valid key (API Gateway's answer).",
        {"message": "Forbidden"},
    ),
    "429": (
        "Deployed API only: over the stage's or the key's rate, burst or daily quota "
        '(API Gateway\'s answer; "Limit Exceeded" for the quota). Retry after a pause.',
        {"message": "Too Many Requests"},
    ),
}

MESSAGE = {"type": "string", "description": "What is wrong, in a short human sentence."}
PROBLEM = {
    "type": "object",
    "required": ["row", "error"],
    "properties": {
        "row": {"type": "integer", "minimum": 0, "description": "Index of the row in crystalData."},
        "position": {"type": "integer", "minimum": 0, "description": "Index of the value in its row."},
        "error": {"type": "string"},
    },
}


def request_schema(feature_count: int, max_rows: int, models: list[str] | None) -> dict[str, Any]:
    number = {"type": "number", "description": "A finite measurement; JSON integers are numbers."}
    row = {"type": "array", "items": number, "minItems": feature_count, "maxItems": feature_count}
    properties: dict[str, Any] = {
        "crystalData": {
            "type": "array",
            "items": row,
            "minItems": 1,
            "maxItems": max_rows,
            "description": f"One row of {feature_count} measurements per sample; at most {max_rows} rows.",
        }
    }
    if models:
        properties["model"] = {"type": "string", "enum": models, "description": "The model that scores the rows."}
    return {"type": "object", "required": sorted(properties), "properties": properties}


def prediction_schema(labels: list[str]) -> dict[str, Any]:
    score = {"type": "number", "minimum": 0, "maximum": 1}
    return {
        "type": "object",
        "required": ["prediction", "scores"],
        "properties": {
            "prediction": {
                "type": "array",
                "items": {"type": "string"},
                "description": "The label with the highest score, one per row, in request order.",
            },
            "scores": {
                "type": "array",
                "items": {"type": "object", "additionalProperties": score},
                "description": f"Every label's score, one object per row; labels come from the models' labels "
                f"file (the default models: {', '.join(labels)}).",
            },
        },
    }


def error_schema(required: list[str], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": {"message": MESSAGE, **(extra or {})}}


def answer(module: ModuleType, route: str, payload: object) -> tuple[int, dict[str, str], Any]:
    with contextlib.redirect_stdout(io.StringIO()):  # the handler's own logs and metrics
        response = module.lambda_handler(json_event(route, payload), FakeLambdaContext())
    headers = {name: values[-1] for name, values in response["multiValueHeaders"].items()}
    return response["statusCode"], headers, json.loads(response["body"])


def recorded_model(module: ModuleType, route: str, valid: dict[str, Any]) -> str:
    """The model that answers the valid example, once its live answer is checked against the recorded one."""
    status, headers, body = answer(module, route, valid)
    recorded = RECORDED_ANSWER[headers[MODEL_HEADER]]
    close = all(
        abs(live[label] - kept[label]) <= 1e-6
        for live, kept in zip(body["scores"], recorded["scores"], strict=True)
        for label in kept
    )
    if status != HTTPStatus.OK or body["prediction"] != recorded["prediction"] or not close:
        raise RuntimeError(f"/{route} no longer answers the recorded example: {status} {body}")
    return headers[MODEL_HEADER]


def ok_response(labels: list[str], model: str) -> dict[str, Any]:
    return {
        "description": "Every row's most probable colour and every colour's score.",
        "headers": {
            MODEL_HEADER: {"description": "The model that scored the rows.", "schema": {"type": "string"}},
            MODEL_VERSION_HEADER: {
                "description": "The first 12 hex digits of the served ONNX file's SHA-256.",
                "schema": {"type": "string", "pattern": "^[0-9a-f]{12}$"},
            },
        },
        "content": {"application/json": {"schema": prediction_schema(labels), "example": RECORDED_ANSWER[model]}},
    }


def error_examples(module: ModuleType, route: str, chosen: dict[str, str]) -> dict[HTTPStatus, Any]:
    """An answer of the handler for each status the error table gives that this route can answer."""
    too_many = [SAMPLE_ROWS[0]] * (module.classifier.max_rows + 1)
    examples = {
        HTTPStatus.UNPROCESSABLE_ENTITY: answer(module, route, {**chosen, "crystalData": [[5.1, "3.5", 1.4]]})[2],
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE: answer(module, route, {**chosen, "crystalData": too_many})[2],
    }
    if chosen:
        examples[HTTPStatus.BAD_REQUEST] = answer(module, route, {"model": "tensorflow", "crystalData": SAMPLE_ROWS})[2]
    return examples


def error_responses(examples: dict[HTTPStatus, Any]) -> dict[str, Any]:
    described = {
        HTTPStatus.BAD_REQUEST: ("The model is missing, not a string or unknown; it is checked before the data.", []),
        HTTPStatus.UNPROCESSABLE_ENTITY: (
            "The body is not a JSON object of crystalData rows of finite numbers, or holds rows the model "
            f"cannot score; errors lists at most {MAX_REPORTED_PROBLEMS} problems and errorCount counts them all.",
            ["errors", "errorCount"],
        ),
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE: ("More rows than the limit, given as limit.", ["limit"]),
    }
    extras = {
        "errors": {"type": "array", "items": PROBLEM, "maxItems": MAX_REPORTED_PROBLEMS},
        "errorCount": {"type": "integer", "minimum": 1},
        "limit": {"type": "integer", "minimum": 1},
    }
    responses = {}
    for status in sorted(set(STATUS_BY_ERROR.values()) & set(examples)):
        description, fields = described[status]
        required = ["message", *(["limit"] if status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE else [])]
        schema = error_schema(required, {field: extras[field] for field in fields})
        content = {"schema": schema, "example": examples[status]}
        responses[str(int(status))] = {"description": description, "content": {"application/json": content}}
    return responses


def server_error_response() -> dict[str, Any]:
    schema = error_schema(["message", "requestId"], {"requestId": {"type": "string"}})
    example = {"message": INTERNAL_ERROR_MESSAGE, "requestId": "c0ffee00-request-id"}
    return {
        "description": "The model failed; quote requestId when reporting it. Details are only in the logs.",
        "content": {"application/json": {"schema": schema, "example": example}},
    }


def gateway_responses() -> dict[str, Any]:
    responses = {}
    for status, (description, example) in GATEWAY_ANSWERS.items():
        content = {"application/json": {"schema": error_schema(["message"]), "example": example}}
        responses[status] = {"description": description, "content": content}
    return responses


def operation(route: str, module: ModuleType) -> dict[str, Any]:
    """The POST operation of one route, with an example of each answer made by calling its handler."""
    classifier = module.classifier
    models = list(classifier.models) if classifier.chosen_by_request else None
    labels = list(next(iter(classifier.models.values())).labels)
    chosen = {"model": models[-1]} if models else {}
    valid = {**chosen, "crystalData": SAMPLE_ROWS}
    request = request_schema(classifier.feature_count, classifier.max_rows, models)
    return {
        "operationId": f"classify_{route}",
        "summary": (module.__doc__ or "").strip().splitlines()[0],
        "requestBody": {"required": True, "content": {"application/json": {"schema": request, "example": valid}}},
        "responses": {
            "200": ok_response(labels, recorded_model(module, route, valid)),
            **error_responses(error_examples(module, route, chosen)),
            "500": server_error_response(),
            **gateway_responses(),
        },
    }


def gateway() -> dict[str, Any]:
    """The API resource of template.yaml, as SAM reads it."""
    (api,) = resources("AWS::Serverless::Api").values()
    return {
        "stage": literal(api["Properties"]["StageName"]),
        "key_parameter": template()["Parameters"]["ApiKeyRequired"],
    }


def servers_and_security() -> dict[str, Any]:
    """Where the API is served, and the API key API Gateway asks for when deployed (template.yaml)."""
    api = gateway()
    key_default = api["key_parameter"]["Default"]
    return {
        "servers": [
            {"url": "http://127.0.0.1:3000", "description": "sam local start-api (no API key needed)"},
            {
                "url": f"https://{{apiId}}.execute-api.{{region}}.amazonaws.com/{api['stage']}",
                "description": "The deployed stack (its KyberApiUrl output)",
                "variables": {"apiId": {"default": "abc123defg"}, "region": {"default": "eu-west-1"}},
            },
        ],
        "components": {
            "securitySchemes": {
                "api_key": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "x-api-key",
                    "description": "The stack's API key (its KyberApiKeyId output). The deployed API requires it "
                    f"unless deployed with ApiKeyRequired=false (default {key_default}); sam local does not check it.",
                }
            }
        },
        "security": [{"api_key": []}] if key_default == "true" else [],
    }


def document() -> dict[str, Any]:
    """The document for the service as the current environment configures it (KYBER_* variables)."""
    get_settings.cache_clear()
    get_registry.cache_clear()
    paths: dict[str, Any] = {}
    modules = []
    for route in routes():
        # A fresh init, as a cold start makes it under the current settings.
        module = importlib.reload(importlib.import_module(f"functions.{route}.app"))
        modules.append(module)
        for path in module.app.routes:
            if module.app.faces[path] is not PROTOCOL:
                paths.setdefault(path, {})["post"] = operation(route, module)
    for module in modules:
        paths.update(protocol_paths(module))
    info = {
        "title": "Kyber crystal classifier",
        "version": SERVER_VERSION,
        "description": "Gonk droids POST crystal measurements; the service answers with each sample's most "
        "probable crystal colour and every colour's score. Any other method on these paths is answered "
        "405, with Allow: POST.",
    }
    tags = [{"name": PROTOCOL_TAG, "description": PROTOCOL_DESCRIPTION}]
    return {"openapi": "3.1.0", "info": info, **servers_and_security(), "tags": tags, "paths": paths}


PROTOCOL_TAG = "Open Inference Protocol"
PROTOCOL_DESCRIPTION = (
    "KServe's v2 REST protocol, as tritonclient[http] and KServe's InferenceRESTClient speak it, served by the same "
    "functions: /v2/models/sklearn/... by /sklearn's, /v2/models/pytorch/... by /pytorch's, the server's routes and "
    'any other model by /astromech\'s. JSON only (tritonclient: binary_data=False); every error is {"error": ...}. '
    'An output\'s parameters.classification = k gives, per row, the k best "score:index:label" strings.'
)
PROTOCOL_ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string", "description": "What is wrong, in a short human sentence."}},
    "additionalProperties": False,
}
GATEWAY_PROTOCOL_ANSWERS = {
    "403": (GATEWAY_ANSWERS["403"][0], {"error": "Forbidden", "message": "Forbidden"}),
    "429": (GATEWAY_ANSWERS["429"][0], {"error": "Too Many Requests", "message": "Too Many Requests"}),
}
TENSOR_METADATA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "datatype", "shape"],
    "properties": {
        "name": {"type": "string"},
        "datatype": {"type": "string"},
        "shape": {"type": "array", "items": {"type": "integer"}},
    },
}
PROTOCOL_RESPONSES = {
    "live": {"type": "object", "required": ["live"], "properties": {"live": {"type": "boolean"}}},
    "ready": {
        "type": "object",
        "required": ["live", "ready"],
        "properties": {"live": {"type": "boolean"}, "ready": {"type": "boolean"}},
    },
    "server": {
        "type": "object",
        "required": ["name", "version", "extensions"],
        "properties": {
            "name": {"type": "string"},
            "version": {"type": "string"},
            "extensions": {"type": "array", "items": {"type": "string"}},
        },
    },
    "model ready": {
        "type": "object",
        "required": ["name", "ready"],
        "properties": {"name": {"type": "string"}, "ready": {"type": "boolean"}},
    },
    "metadata": {
        "type": "object",
        "required": ["name", "versions", "platform", "inputs", "outputs"],
        "properties": {
            "name": {"type": "string"},
            "versions": {"type": "array", "items": {"type": "string"}},
            "platform": {"type": "string", "const": "onnx_onnxv1"},
            "inputs": {"type": "array", "items": TENSOR_METADATA},
            "outputs": {"type": "array", "items": TENSOR_METADATA},
        },
    },
    "infer": {
        "type": "object",
        "required": ["model_name", "model_version", "outputs"],
        "properties": {
            "model_name": {"type": "string"},
            "model_version": {"type": "string"},
            "id": {"type": "string", "description": "The request's id, when it had one."},
            "outputs": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "datatype", "shape", "data"],
                    "properties": {**TENSOR_METADATA["properties"], "data": {"type": "array"}},
                },
            },
        },
    },
}
PROTOCOL_ERRORS = {
    HTTPStatus.BAD_REQUEST: "The request's structure: inputs, name, shape, datatype, data not filling the shape, "
    "parameters, outputs, classification count or id.",
    HTTPStatus.NOT_FOUND: "No such model, or no such version of it.",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "More rows than the limit.",
    HTTPStatus.UNSUPPORTED_MEDIA_TYPE: "Binary tensor data (Inference-Header-Content-Length, application/octet-stream "
    "or binary_data_size): send JSON.",
    HTTPStatus.UNPROCESSABLE_ENTITY: "The body is not a JSON object, or a value is not a finite number (or beyond "
    "the declared datatype's range, or too large for the model's own arithmetic).",
}


def protocol_answer(module: ModuleType, method: str, path: str, body: Any = None, **headers: str) -> Any:
    raw = None if body is None else body if isinstance(body, str) else json.dumps(body)
    route = module.__name__.split(".")[1]
    with contextlib.redirect_stdout(io.StringIO()):
        response = module.lambda_handler(protocol_event(route, method, path, raw, **headers), FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def protocol_content(schema: dict[str, Any], example: Any) -> dict[str, Any]:
    return {"application/json": {"schema": schema, "example": example}}


def protocol_gateway_responses() -> dict[str, Any]:
    schema = {"type": "object", "required": ["error", "message"], "properties": {"error": MESSAGE, "message": MESSAGE}}
    return {
        status: {"description": description, "content": protocol_content(schema, example)}
        for status, (description, example) in GATEWAY_PROTOCOL_ANSWERS.items()
    }


def protocol_errors(examples: dict[HTTPStatus, Any]) -> dict[str, Any]:
    return {
        str(int(status)): {"description": PROTOCOL_ERRORS[status], "content": protocol_content(PROTOCOL_ERROR, body)}
        for status, body in sorted(examples.items())
    }


def infer_request_schema(protocol: InferenceProtocol) -> dict[str, Any]:
    model = next(iter(protocol.classifier.models.values()))
    model_input, probabilities, labels = protocol.tensors(model)
    max_rows, features = protocol.classifier.max_rows, protocol.classifier.feature_count
    number = {"type": "number", "description": "A finite measurement, read as the JSON number it is."}
    row = {"type": "array", "items": number, "minItems": features, "maxItems": features}
    datatypes = [*FLOAT_LIMITS, *INTEGER_DATATYPES]
    tensor = {
        "type": "object",
        "required": ["name", "shape", "datatype", "data"],
        "properties": {
            "name": {"type": "string", "const": model_input.name},
            "shape": {
                "type": "array",
                "prefixItems": [{"type": "integer", "minimum": 1, "maximum": max_rows}, {"const": features}],
                "minItems": 2,
                "maxItems": 2,
                "description": f"[rows, {features}], at most {max_rows} rows.",
            },
            "datatype": {"type": "string", "enum": datatypes, "description": "The model's own is in its metadata."},
            "parameters": {"type": "object", "propertyNames": {"not": {"const": "binary_data_size"}}},
            "data": {
                "type": "array",
                "items": {"oneOf": [number, row]},
                "minItems": 1,
                "maxItems": max_rows * features,
                "description": "rows x features values, flat in row-major order or nested as rows; it must fill "
                "the shape exactly.",
            },
        },
    }
    output = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "enum": [probabilities.name, labels.name]},
            "parameters": {
                "type": "object",
                "properties": {"classification": {"type": "integer", "minimum": 1, "maximum": len(model.labels)}},
            },
        },
    }
    return {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "parameters": {"type": "object"},
            "inputs": {"type": "array", "items": tensor, "minItems": 1, "maxItems": 1},
            "outputs": {"type": "array", "items": output, "minItems": 1},
        },
    }


def infer_example(protocol: InferenceProtocol, model: CrystalModel) -> dict[str, Any]:
    """The recorded answer to SAMPLE_ROWS in the protocol's shape: live scores differ between CPUs in their last
    digits, and the document must be the same wherever it is generated."""
    recorded = RECORDED_ANSWER[model.name]
    _, probabilities, labels = protocol.tensors(model)
    rows = len(SAMPLE_ROWS)
    return {
        "model_name": model.name,
        "model_version": model.version,
        "id": "droid-7",
        "outputs": [
            {
                **probabilities.metadata(),
                "shape": [rows, len(model.labels)],
                "data": [row[label] for row in recorded["scores"] for label in model.labels],
            },
            {**labels.metadata(), "shape": [rows], "data": recorded["prediction"]},
        ],
    }


PROTOCOL_SUMMARIES = {
    "live": "Server live: the function answers.",
    "ready": "Server ready: every model is loaded (an execution environment answers only once they are).",
    "server": "Server metadata: name, version and extensions.",
    "model ready": "Model ready.",
    "metadata": "Model metadata, read from the ONNX file and the labels.",
    "infer": "Inference: one input tensor of rows; the probabilities and the labels as outputs.",
}


def kind_of(path: str) -> str:
    if path.startswith("/v2/health/"):
        return path.rsplit("/", 1)[-1]
    if path == "/v2":
        return "server"
    return {"ready": "model ready", "infer": "infer"}.get(path.rsplit("/", 1)[-1], "metadata")


def path_parameters(path: str, protocol: InferenceProtocol) -> list[dict[str, Any]]:
    parameters = []
    if "{model}" in path:
        schema = {"type": "string", "enum": list(protocol.classifier.models)}
        parameters.append({"name": "model", "in": "path", "required": True, "schema": schema})
    if "{version}" in path:
        versions = [model.version for model in protocol.classifier.models.values()]
        schema = {"type": "string", "enum": versions, "description": "The model's X-Kyber-Model-Version."}
        parameters.append({"name": "version", "in": "path", "required": True, "schema": schema})
    return parameters


def infer_request_example(protocol: InferenceProtocol, model: CrystalModel) -> dict[str, Any]:
    model_input, _, _ = protocol.tensors(model)
    values = [value for row in SAMPLE_ROWS for value in row]
    tensor = {"name": model_input.name, "shape": [len(SAMPLE_ROWS), len(SAMPLE_ROWS[0])], "datatype": "FP64"}
    return {"id": "droid-7", "inputs": [{**tensor, "data": values}]}


def infer_error_examples(module: ModuleType, path: str, request: dict[str, Any]) -> dict[HTTPStatus, Any]:
    tensor = request["inputs"][0]
    too_many = module.protocol.classifier.max_rows + 1
    bodies: dict[HTTPStatus, Any] = {
        HTTPStatus.BAD_REQUEST: {"inputs": [{**tensor, "data": tensor["data"][:-1]}]},
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE: {"inputs": [{**tensor, "shape": [too_many, len(SAMPLE_ROWS[0])]}]},
        HTTPStatus.UNPROCESSABLE_ENTITY: {"inputs": [{**tensor, "data": ["5.1", *tensor["data"][1:]]}]},
    }
    examples = {status: protocol_answer(module, "POST", path, body)[1] for status, body in bodies.items()}
    binary = protocol_answer(module, "POST", path, "{}", **{"Inference-Header-Content-Length": "2"})
    examples[HTTPStatus.UNSUPPORTED_MEDIA_TYPE] = binary[1]
    return examples


def not_found_example(module: ModuleType, template: str, method: str, model: CrystalModel) -> dict[HTTPStatus, Any]:
    """The 404 of a path with parameters: an unknown version, or else an unknown model."""
    if "{version}" in template:
        path = template.replace("{model}", model.name).replace("{version}", "000000000000")
    elif "{model}" in template:
        path = template.replace("{model}", "tensorflow")
    else:
        return {}
    return {HTTPStatus.NOT_FOUND: protocol_answer(module, method, path, "{}")[1]}


def protocol_server_error() -> dict[str, Any]:
    schema = {
        **PROTOCOL_ERROR,
        "required": ["error", "requestId"],
        "properties": {**PROTOCOL_ERROR["properties"], "requestId": {"type": "string"}},
    }
    example = {"error": INTERNAL_ERROR_MESSAGE, "requestId": "c0ffee00-request-id"}
    return {"description": server_error_response()["description"], "content": protocol_content(schema, example)}


def protocol_operation(module: ModuleType, template: str, method: str) -> dict[str, Any]:
    """One route of the protocol, with an example of each answer made by calling its handler."""
    protocol: InferenceProtocol = module.protocol
    model = next(iter(protocol.classifier.models.values()))
    path = template.replace("{model}", model.name).replace("{version}", model.version)
    kind = kind_of(template)
    operation: dict[str, Any] = {
        "operationId": template.strip("/").replace("/", "_").replace("{", "").replace("}", "") + f"_{method.lower()}",
        "summary": PROTOCOL_SUMMARIES[kind],
        "tags": [PROTOCOL_TAG],
    }
    if path_parameters(template, protocol):
        operation["parameters"] = path_parameters(template, protocol)
    errors = not_found_example(module, template, method, model)
    if kind == "infer":
        request = infer_request_example(protocol, model)
        status, live = protocol_answer(module, method, path, request)
        example = infer_example(protocol, model)
        if status != HTTPStatus.OK or live["outputs"][1] != example["outputs"][1]:
            raise RuntimeError(f"{path} no longer answers the recorded example: {status} {live}")
        schema = infer_request_schema(protocol)
        operation["requestBody"] = {"required": True, "content": protocol_content(schema, request)}
        errors.update(infer_error_examples(module, path, request))
    else:
        example = protocol_answer(module, method, path)[1]
    ok = {"description": PROTOCOL_SUMMARIES[kind], "content": protocol_content(PROTOCOL_RESPONSES[kind], example)}
    responses = {"200": ok, **protocol_errors(errors)}
    if kind == "infer":
        responses["500"] = protocol_server_error()
    operation["responses"] = {**responses, **protocol_gateway_responses()}
    return operation


def protocol_paths(module: ModuleType) -> dict[str, Any]:
    """The protocol's routes of one function, in the order it registered them."""
    return {
        path: {method.lower(): protocol_operation(module, path, method) for method in methods}
        for path, methods in module.app.routes.items()
        if module.app.faces[path] is PROTOCOL
    }


def text() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write {DOCUMENT.name} instead of printing it")
    options = parser.parse_args()
    if options.write:
        DOCUMENT.write_text(text())
        print(f"wrote {DOCUMENT}")
    else:
        print(text(), end="")


if __name__ == "__main__":
    main()
