"""What a route says of itself in the API's description (openapi.json, written by scripts/openapi.py): its summary,
the statuses it answers with their bodies' schemas, and the requests that draw an example of each. A face builds
these for its routes, from the code that owns the limits; they are only built when the document is. Both faces
describe the same models: the examples, the model headers and the failure they share are here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from kyber.responses import MODEL_HEADER, MODEL_VERSION_HEADER

# A JSON Schema, as openapi.json holds it.
JsonSchema = Mapping[str, Any]


@dataclass(frozen=True)
class Published:
    """A body whose schema is a data model a protocol publishes (a pydantic model, imported by its module and name
    when the document is generated). narrowed: what this server's own limits add to it; optional: the fields the
    model requires that this server sends only sometimes."""

    module: str
    model: str
    narrowed: JsonSchema = field(default_factory=dict)
    optional: tuple[str, ...] = ()


@dataclass(frozen=True)
class ExampleRequest:
    """A request to a route: its JSON body (None for none), its path's parameters and its headers."""

    body: object = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Answer:
    """One status a route answers: when, its body's schema and headers, and its example: the route's answer to the
    request given, or, for an answer no request draws (a failure), the body itself."""

    when: str
    schema: JsonSchema | Published
    request: ExampleRequest | None = None
    example: object = None
    headers: Mapping[str, JsonSchema] = field(default_factory=dict)


@dataclass(frozen=True)
class RouteDoc:
    """A route's description: the request's body schema (None: it takes none; its example is the 200's request),
    its path parameters' schemas, every status it answers, and the tags it is listed under, with their descriptions."""

    operation_id: str
    summary: str
    answers: Mapping[HTTPStatus, Answer]
    request: JsonSchema | Published | None = None
    parameters: Mapping[str, JsonSchema] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)


def object_schema(required: list[str], properties: Mapping[str, JsonSchema], **keywords: Any) -> JsonSchema:
    return {"type": "object", "required": required, "properties": dict(properties), **keywords}


MESSAGE = {"type": "string", "description": "What is wrong, in a short human sentence."}


MODEL_HEADERS_DOC = {
    MODEL_HEADER: {"description": "The model that scored the rows.", "schema": {"type": "string"}},
    MODEL_VERSION_HEADER: {
        "description": "The first 12 hex digits of the served ONNX file's SHA-256.",
        "schema": {"type": "string", "pattern": "^[0-9a-f]{12}$"},
    },
}
# Two droids' samples, the examples the API's description shows on both faces.
EXAMPLE_ROWS = [[0.92, 0.12, 0.31, 0.09], [6.2, 2.9, 4.3, 1.3]]
# The request id of the API description's example of a 500.
EXAMPLE_REQUEST_ID = "c0ffee00-request-id"
FAILURE_WHEN = "The model failed; quote requestId when reporting it. Details are only in the logs."
