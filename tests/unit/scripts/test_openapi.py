"""openapi.json is what the code generates from the routes' descriptions, a valid OpenAPI 3.1 document, and what the
routes answer: each documented example is drawn by its request, and valid by its schema (for the protocol, KServe's
published models)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from scripts import openapi


def committed() -> dict[str, Any]:
    return json.loads(openapi.DOCUMENT.read_text())


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    """A validator of one of the document's schemas, its references resolved in the document."""
    return Draft202012Validator({**schema, "components": committed()["components"]})


def close(live: Any, documented: Any) -> bool:
    """Whether an answer is the documented one, its floats within the tolerance the recorded scores keep."""
    if isinstance(live, float) and isinstance(documented, float):
        return abs(live - documented) <= openapi.SCORE_TOLERANCE
    if isinstance(live, list) and isinstance(documented, list):
        return len(live) == len(documented) and all(map(close, live, documented))
    if isinstance(live, dict) and isinstance(documented, dict):
        return live.keys() == documented.keys() and all(close(live[key], documented[key]) for key in live)
    return bool(live == documented)


def test_the_committed_document_is_what_the_code_generates(models_dir):
    # When the document is generated from the functions as they start on the default models
    generated = openapi.text()
    # Then it is, byte for byte, the committed openapi.json (regenerate: make openapi)
    assert openapi.DOCUMENT.read_text() == generated


def test_the_document_is_valid_openapi():
    validate(committed())


def test_each_documented_answer_is_what_its_request_draws_from_the_function(models_dir):
    # Given every route the functions describe, and the committed document
    paths = committed()["paths"]
    checked = 0
    for module, path, method, doc in openapi.described_routes():
        responses = paths[path][method.lower()]["responses"]
        for status, documented in doc.answers.items():
            if documented.request is None:
                continue
            # When the function answers the request that draws the example
            live_status, live_body = openapi.answer(module, path, method, documented.request)
            # Then it answers the documented status, and the documented body (scores within the recorded tolerance)
            assert live_status == status, (path, method, status, live_body)
            assert close(live_body, responses[str(int(status))]["content"]["application/json"]["example"]), path
            checked += 1
    assert checked > 3 * 6 * 2


def test_every_example_is_valid_by_the_schema_it_illustrates():
    for path, item in committed()["paths"].items():
        for method, operation in item.items():
            media = [operation["requestBody"]["content"]] if "requestBody" in operation else []
            media += [answer["content"] for answer in operation["responses"].values()]
            for content in media:
                example = content["application/json"]["example"]
                errors = [
                    error.message for error in validator(content["application/json"]["schema"]).iter_errors(example)
                ]
                assert not errors, (path, method, errors)


def test_the_protocols_answers_are_kserves_published_models_but_for_the_id_the_server_echoes_only_when_sent():
    # Given the document's inference answer, and KServe's InferenceResponse as the document holds it
    document = committed()
    infer = document["paths"]["/v2/models/sklearn/infer"]["post"]
    ok = infer["responses"]["200"]["content"]["application/json"]
    published = {"$ref": "#/components/schemas/InferenceResponse"}
    # Then every answer but inference's is one of KServe's models as published
    assert document["paths"]["/v2"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ServerMetadataResponse"
    }
    assert infer["requestBody"]["content"]["application/json"]["schema"]["allOf"][0] == {
        "$ref": "#/components/schemas/InferenceRequest"
    }
    # And an answer to a request without an id, which has none, is valid by the document, not by KServe's model
    answer = {key: value for key, value in ok["example"].items() if key != "id"}
    assert validator(ok["schema"]).is_valid(answer)
    assert not validator(published).is_valid(answer)
    assert validator(published).is_valid(ok["example"])


def test_without_the_clients_venv_the_generator_says_how_to_build_it(models_dir, monkeypatch, tmp_path):
    monkeypatch.setattr(openapi, "CLIENTS_PYTHON", tmp_path / "missing" / "python")
    with pytest.raises(SystemExit, match=r"missing; make \.venv-clients/\.installed builds it"):
        openapi.document()


def test_every_route_documents_every_status_it_answers():
    paths = committed()["paths"]
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
    paths = {path: item for path, item in committed()["paths"].items() if "/v2" in path}
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
