"""openapi.json is what the code generates, and a valid OpenAPI 3.1 document."""

from __future__ import annotations

import json

from openapi_spec_validator import validate

from scripts import openapi


def test_the_committed_document_is_what_the_code_generates(models_dir):
    # When the document is generated from the functions as they start on the default models
    generated = openapi.text()
    # Then it is, byte for byte, the committed openapi.json (regenerate: python -m scripts.openapi --write)
    assert openapi.DOCUMENT.read_text() == generated


def test_the_document_is_valid_openapi():
    validate(json.loads(openapi.DOCUMENT.read_text()))


def test_every_route_documents_every_status_it_answers():
    paths = json.loads(openapi.DOCUMENT.read_text())["paths"]
    statuses = {
        path: sorted(operations["post"]["responses"])
        for path, operations in paths.items()
        if not path.startswith("/v2")
    }
    assert statuses == {
        "/sklearn": ["200", "403", "413", "422", "429", "500"],
        "/pytorch": ["200", "403", "413", "422", "429", "500"],
        "/astromech": ["200", "400", "403", "413", "422", "429", "500"],
    }
    for path in statuses:
        for answer in paths[path]["post"]["responses"].values():
            assert answer["content"]["application/json"]["example"]


def test_every_inference_protocol_route_documents_every_status_it_answers():
    # Given the protocol's routes, each with the one method the functions answer on it
    paths = {path: item for path, item in json.loads(openapi.DOCUMENT.read_text())["paths"].items() if "/v2" in path}
    assert len(paths) == 3 * 6 + 3
    gateway = ["403", "429"]
    for path, item in paths.items():
        ((method, operation),) = item.items()
        statuses = sorted(operation["responses"])
        # Then the statuses: a model or version it may not serve is a 404, inference has the 4xx of a bad request
        not_found = ["404"] if "{" in path else []
        if path.endswith("/infer"):
            assert method == "post"
            assert statuses == sorted(["200", "400", *not_found, "413", "415", "422", "500", *gateway]), path
        else:
            assert method == "get"
            assert statuses == sorted(["200", *not_found, *gateway]), path
        assert operation["tags"] == ["Open Inference Protocol"]
        # And every error is {"error": ...}, as the protocol's clients read it
        for status, answer in operation["responses"].items():
            example = answer["content"]["application/json"]["example"]
            assert example
            if status.startswith(("4", "5")):
                assert example["error"]
