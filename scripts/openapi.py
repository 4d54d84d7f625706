"""The API's OpenAPI 3.1 document, derived from the routes each function registers.

Each function's kyber.api.Api holds its routes and, for each, the description its face writes (kyber.route_docs):
summary, parameters, the statuses it answers with their bodies' schemas, and the requests that draw an example of
each, which the handler then answers. Schemas a protocol publishes are read from its package, in .venv-clients
(scripts/protocol_models.py); what API Gateway itself answers and where the API is served, from template.yaml.
`make openapi` writes openapi.json after `sam build`; by hand, in the functions' environment:
`python -m scripts.project exec python -m scripts.openapi [--write]` prints the document, or writes it.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import subprocess
from http import HTTPStatus
from types import ModuleType
from typing import Any

from kyber.inference_protocol import SERVER_VERSION
from kyber.registry import get_registry
from kyber.route_docs import MESSAGE, ExampleRequest, JsonSchema, Published, RouteDoc
from kyber.settings import get_settings
from scripts.harness.events import FakeLambdaContext, protocol_event
from scripts.project import REPO, literal, resources, routes, template

DOCUMENT = REPO / "openapi.json"
CLIENTS_PYTHON = REPO / ".venv-clients" / "bin" / "python"
# The default models' scores of the example rows, recorded from their handlers: live scores can differ in their
# last digits between CPUs, and the document must be the same wherever it is generated. An example's score within
# SCORE_TOLERANCE of one of these is written as recorded.
RECORDED_SCORES = (
    *(0.9986481188413271, 0.0013518784805266163, 2.678146301158067e-9),
    *(0.011567800612436263, 0.9059793301436573, 0.08245286924390652),
    *(0.7910650372505188, 0.2010750025510788, 0.007859998382627964),
    *(0.003284465055912733, 0.9932870268821716, 0.003428508760407567),
)
SCORE_TOLERANCE = 1e-6
# API Gateway's own answers when it refuses a request before any function runs (the API's GatewayResponses in
# template.yaml write the message as both "error" and "message"), for the deployed stack; sam local checks neither
# keys nor limits.
GATEWAY_ANSWERS = {
    "INVALID_API_KEY": (
        "Deployed API only: the x-api-key header is missing or holds no valid key (API Gateway's answer).",
        "Forbidden",
    ),
    "THROTTLED": (
        "Deployed API only: over the stage's or the key's rate, burst or daily quota "
        '(API Gateway\'s answer; "Limit Exceeded" for the quota). Retry after a pause.',
        "Too Many Requests",
    ),
}


def published_components(docs: list[RouteDoc]) -> dict[str, Any]:
    """The schemas of the published models the routes name (and of the models those refer to), by name."""
    schemas = [answer.schema for doc in docs for answer in doc.answers.values()] + [doc.request for doc in docs]
    wanted: dict[str, set[str]] = {}
    for schema in schemas:
        if isinstance(schema, Published):
            wanted.setdefault(schema.module, set()).add(schema.model)
    if wanted and not CLIENTS_PYTHON.exists():
        raise SystemExit(f"openapi: {CLIENTS_PYTHON} is missing; make .venv-clients/.installed builds it")
    components: dict[str, Any] = {}
    # kserve's pins clash with the functions' environment: its own venv reads the models, with its own imports.
    environment = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    for module, models in sorted(wanted.items()):
        command = [str(CLIENTS_PYTHON), "-m", "scripts.protocol_models", module, *sorted(models)]
        printed = subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, check=True)
        components.update(json.loads(printed.stdout))
    return dict(sorted(components.items()))


def schema_of(schema: JsonSchema | Published, components: dict[str, Any]) -> dict[str, Any]:
    """A schema as the document holds it: a published model by reference, or, where this server sends less than
    the model requires, the model with those fields optional; with what this server narrows, both must hold."""
    if not isinstance(schema, Published):
        return dict(schema)
    published: dict[str, Any] = {"$ref": f"#/components/schemas/{schema.model}"}
    if schema.optional:
        component = components[schema.model]
        published = {**component, "required": [name for name in component["required"] if name not in schema.optional]}
    return {"allOf": [published, dict(schema.narrowed)]} if schema.narrowed else published


def answer(module: ModuleType, path: str, method: str, request: ExampleRequest) -> tuple[int, Any]:
    """The function's answer to a request, as its status and JSON body."""
    for name, value in request.parameters.items():
        path = path.replace(f"{{{name}}}", value)
    body = None if request.body is None else json.dumps(request.body)
    event = protocol_event(module.__name__.split(".")[1], method, path, body, **request.headers)
    with contextlib.redirect_stdout(io.StringIO()):  # the handler's own logs and metrics
        response = module.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def recorded(value: Any) -> Any:
    """An answer with each score written as recorded (RECORDED_SCORES), when it is within the tolerance."""
    if isinstance(value, float):
        nearest = min(RECORDED_SCORES, key=lambda kept: abs(kept - value))
        return nearest if abs(nearest - value) <= SCORE_TOLERANCE else value
    if isinstance(value, list):
        return [recorded(item) for item in value]
    if isinstance(value, dict):
        return {key: recorded(item) for key, item in value.items()}
    return value


def gateway_responses() -> dict[str, Any]:
    """API Gateway's refusals before any function runs, with the status template.yaml gives each."""
    (api,) = resources("AWS::Serverless::Api").values()
    answers = api["Properties"]["GatewayResponses"]
    schema = {"type": "object", "required": ["error", "message"], "properties": {"error": MESSAGE, "message": MESSAGE}}
    return {
        str(answers[name]["StatusCode"]): {
            "description": description,
            "content": {"application/json": {"schema": schema, "example": {"error": message, "message": message}}},
        }
        for name, (description, message) in GATEWAY_ANSWERS.items()
    }


def operation(module: ModuleType, path: str, method: str, doc: RouteDoc, components: dict[str, Any]) -> dict[str, Any]:
    """One route's operation, with an example of each answer made by calling its handler."""

    def content(schema: JsonSchema | Published, example: Any) -> dict[str, Any]:
        return {"application/json": {"schema": schema_of(schema, components), "example": example}}

    described: dict[str, Any] = {"operationId": doc.operation_id, "summary": doc.summary}
    if doc.tags:
        described["tags"] = list(doc.tags)
    if doc.parameters:
        described["parameters"] = [
            {"name": name, "in": "path", "required": True, "schema": dict(schema)}
            for name, schema in doc.parameters.items()
        ]
    if doc.request is not None:
        sent = doc.answers[HTTPStatus.OK].request or ExampleRequest()
        described["requestBody"] = {"required": True, "content": content(doc.request, sent.body)}
    responses = {}
    for status, documented in doc.answers.items():
        drawn = documented.request
        example = documented.example if drawn is None else recorded(answer(module, path, method, drawn)[1])
        headers = {"headers": dict(documented.headers)} if documented.headers else {}
        responses[str(int(status))] = {
            "description": documented.when,
            **headers,
            **{"content": content(documented.schema, example)},
        }
    described["responses"] = {**responses, **gateway_responses()}
    return described


def servers_and_security() -> dict[str, Any]:
    """Where the API is served, and the API key API Gateway asks for when deployed (template.yaml)."""
    (api,) = resources("AWS::Serverless::Api").values()
    key_default = template()["Parameters"]["ApiKeyRequired"]["Default"]
    deployed = f"https://{{apiId}}.execute-api.{{region}}.amazonaws.com/{literal(api['Properties']['StageName'])}"
    api_key = {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "The stack's API key (its KyberApiKeyId output). The deployed API requires it "
        f"unless deployed with ApiKeyRequired=false (default {key_default}); sam local does not check it.",
    }
    return {
        "servers": [
            {"url": "http://127.0.0.1:3000", "description": "sam local start-api (no API key needed)"},
            {
                "url": deployed,
                "description": "The deployed stack (its KyberApiUrl output)",
                "variables": {"apiId": {"default": "abc123defg"}, "region": {"default": "eu-west-1"}},
            },
        ],
        "components": {"securitySchemes": {"api_key": api_key}},
        "security": [{"api_key": []}] if key_default == "true" else [],
    }


def described_routes() -> list[tuple[ModuleType, str, str, RouteDoc]]:
    """Every function's described routes, as it starts under the current settings (KYBER_* variables): each
    function's own face first, in template order, then the others' in the order the functions registered them."""
    get_settings.cache_clear()
    get_registry.cache_clear()
    found: list[tuple[bool, ModuleType, str, str, RouteDoc]] = []
    for route in routes():
        # A fresh init, as a cold start makes it.
        module = importlib.reload(importlib.import_module(f"functions.{route}.app"))
        app = module.app
        for path, docs in app.docs.items():
            found.extend(
                (app.faces[path] is not app.default_face, module, path, method, describe())
                for method, describe in docs.items()
            )
    return [(module, path, method, doc) for _, module, path, method, doc in sorted(found, key=lambda each: each[0])]


def document() -> dict[str, Any]:
    """The document for the service as the current environment configures it (KYBER_* variables)."""
    described = described_routes()
    components = published_components([doc for *_, doc in described])
    paths: dict[str, Any] = {}
    tags: dict[str, str] = {}
    for module, path, method, doc in described:
        paths.setdefault(path, {})[method.lower()] = operation(module, path, method, doc, components)
        tags.update(doc.tags)
    info = {
        "title": "Kyber crystal classifier",
        "version": SERVER_VERSION,
        "description": "Gonk droids POST crystal measurements; the service answers with each sample's most "
        "probable crystal colour and every colour's score. Any other method on a path is answered 405, with "
        "Allow naming the path's methods.",
    }
    head = servers_and_security()
    head["components"]["schemas"] = components
    tag_list = [{"name": name, "description": description} for name, description in tags.items()]
    return {"openapi": "3.1.0", "info": info, **head, "tags": tag_list, "paths": paths}


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
