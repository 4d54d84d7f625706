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
    statuses = {path: sorted(operations["post"]["responses"]) for path, operations in paths.items()}
    assert statuses == {
        "/sklearn": ["200", "403", "413", "422", "429", "500"],
        "/pytorch": ["200", "403", "413", "422", "429", "500"],
        "/astromech": ["200", "400", "403", "413", "422", "429", "500"],
    }
    for operations in paths.values():
        for answer in operations["post"]["responses"].values():
            assert answer["content"]["application/json"]["example"]
