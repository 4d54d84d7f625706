"""What a refused request is told: each kind of problem in its own words, bounded and exact."""

from __future__ import annotations

import base64
from http import HTTPStatus

import pytest

from kyber.errors import CrystalBatchError
from scripts.harness.events import proxy_event


def test_base64_with_characters_outside_the_alphabet_is_refused(invoke):
    encoded = base64.b64encode(b'{"crystalData": [[5.1, 3.5, 1.4, 0.2]]}').decode()
    answer = invoke("sklearn", proxy_event("sklearn", encoded[:8] + "*" + encoded[8:], base64=True))
    assert answer.status == HTTPStatus.UNPROCESSABLE_ENTITY
    assert answer.body == {"message": "request body is not valid base64"}


@pytest.mark.parametrize(
    ("body", "kind"),
    [("[1]", "a list"), ('"text"', "a string"), ("4", "a number"), ("null", "null"), ("true", "a boolean")],
)
def test_a_body_that_is_not_an_object_is_named_by_its_kind(invoke, body, kind):
    answer = invoke("pytorch", proxy_event("pytorch", body))
    assert answer.body == {"message": f"request body must be a JSON object, got {kind}"}


@pytest.mark.parametrize(
    ("crystal_data", "message"),
    [
        ('{"a": 1}', "crystalData must be a list of rows, got an object"),
        ("NaN", "crystalData must be a list of rows, got a non-finite number"),
        ("[[1, 2, 3, 4], 5]", "crystalData has 1 invalid entry"),
        ('[[1, 2, 3, "4"], [true, 2, 3, 4]]', "crystalData has 2 invalid entries"),
    ],
)
def test_crystal_data_problems_are_worded_for_their_kind_and_count(invoke, crystal_data, message):
    answer = invoke("sklearn", proxy_event("sklearn", '{"crystalData": ' + crystal_data + "}"))
    assert answer.status == HTTPStatus.UNPROCESSABLE_ENTITY
    assert answer.body["message"] == message


def test_an_unknown_model_name_is_quoted_up_to_forty_characters(invoke):
    name = "m" * 39 + "XYZ"
    answer = invoke("astromech", proxy_event("astromech", '{"model": "' + name + '", "crystalData": [[1, 2, 3, 4]]}'))
    assert answer.status == HTTPStatus.BAD_REQUEST
    assert answer.body == {"message": f'unknown model {name[:40]!r}: expected "sklearn" or "pytorch"'}


def test_a_domain_error_reads_as_its_message_wherever_it_is_printed():
    error = CrystalBatchError("crystalData is empty; send at least one row", errorCount=0)
    assert str(error) == error.message == "crystalData is empty; send at least one row"
    assert error.details == {"errorCount": 0}


@pytest.mark.parametrize(("size", "detailed"), [(1 << 20, True), ((1 << 20) + 1, False)])
def test_a_body_of_up_to_one_mib_with_nan_is_answered_row_by_row(invoke, size, detailed):
    # Given a body with a NaN value, padded with JSON whitespace to exactly this many bytes
    body = '{"crystalData": [[NaN, 3.5, 1.4, 0.2]]}'
    body += " " * (size - len(body))
    # When it is posted
    answer = invoke("sklearn", proxy_event("sklearn", body))
    # Then up to 1 MiB the problem is named by row and position; above, the body is not strict JSON
    assert answer.status == HTTPStatus.UNPROCESSABLE_ENTITY
    assert ("errors" in answer.body) is detailed
    if detailed:
        assert answer.body["errors"][0]["row"] == 0
        assert answer.body["errors"][0]["position"] == 0
    else:
        assert answer.body["message"].startswith("request body is not valid JSON")
