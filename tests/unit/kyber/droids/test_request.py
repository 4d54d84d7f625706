"""Bad requests get a short JSON error with the right status: 422 data, 400 model, 413 size."""

from __future__ import annotations

import json
from http import HTTPStatus

import pytest

from kyber.validation import MAX_REREAD_BYTES
from scripts.harness.events import SAMPLE_ROW, body_for, json_event, proxy_event
from scripts.project import routes
from tests.support.service import ROW_LIMIT, configure_service

NOT_JSON = "request body is not valid JSON: "
EMPTY = "request body is empty; expected a JSON object"
# Each body that is not a JSON object, and what the droid is told.
UNREADABLE_BODIES = {
    "not JSON": (
        "crystalData: lots",
        NOT_JSON + "unexpected character, expected a JSON value: line 1 column 1 (char 0)",
    ),
    "truncated": (
        '{"crystalData": [[5.1, 3.5, 1.4, 0.2]',
        NOT_JSON + "unexpected end of data: line 1 column 38 (char 37)",
    ),
    "empty": ("", EMPTY),
    "blank": ("  \n ", EMPTY),
    "absent": (None, EMPTY),
    "trailing garbage": (
        '{"crystalData": [[5.1, 3.5, 1.4, 0.2]]} x',
        NOT_JSON + "unexpected content after document: line 1 column 41 (char 40)",
    ),
    "array, not object": ("[[5.1, 3.5, 1.4, 0.2]]", "request body must be a JSON object, got a list"),
    "string, not object": ('"crystalData"', "request body must be a JSON object, got a string"),
    "number, not object": ("42", "request body must be a JSON object, got a number"),
    "null, not object": ("null", "request body must be a JSON object, got null"),
}


@pytest.mark.parametrize("route", routes())
@pytest.mark.parametrize(("body", "message"), UNREADABLE_BODIES.values(), ids=UNREADABLE_BODIES.keys())
def test_body_that_is_not_a_json_object_is_422(invoke, route, body, message):
    # When a droid sends a body that is not a JSON object
    answer = invoke(route, proxy_event(route, body))
    # Then it is told what is wrong with it, in JSON
    assert answer.status == HTTPStatus.UNPROCESSABLE_ENTITY
    assert answer.body == {"message": message}


BAD_CRYSTAL_DATA = {
    "object": '{"rows": [[5.1, 3.5, 1.4, 0.2]]}',
    "string": '"5.1, 3.5, 1.4, 0.2"',
    "number": "5.1",
    "null": "null",
    "empty list": "[]",
}


@pytest.mark.parametrize("route", routes())
@pytest.mark.parametrize("crystal_data", BAD_CRYSTAL_DATA.values(), ids=BAD_CRYSTAL_DATA.keys())
def test_crystal_data_that_is_not_a_list_of_rows_is_422(invoke, route, crystal_data):
    answer = invoke(route, proxy_event(route, body_for(route, crystal_data)))
    assert answer.status == HTTPStatus.UNPROCESSABLE_ENTITY
    assert answer.body["message"].startswith("crystalData ")
    assert set(answer.body) == {"message"}


@pytest.mark.parametrize("route", routes())
def test_flat_list_is_rows_that_are_not_lists(invoke, route):
    answer = invoke(route, proxy_event(route, body_for(route, "[5.1, 3.5, 1.4, 0.2]")))
    assert answer.status == HTTPStatus.UNPROCESSABLE_ENTITY
    assert answer.body["errorCount"] == 4
    assert answer.body["errors"][3] == {"row": 3, "error": "row must be a list of 4 numbers, got a number"}


@pytest.mark.parametrize("route", routes())
def test_missing_crystal_data_is_422(invoke, route):
    payload = {"model": "pytorch"} if route == "astromech" else {"crystaldata": [SAMPLE_ROW]}
    answer = invoke(route, json_event(route, payload))
    assert answer.status == HTTPStatus.UNPROCESSABLE_ENTITY
    assert answer.body["message"] == "crystalData is required: a list of rows of 4 numbers"


BAD_ROWS = {
    "row is a number": ("[[5.1, 3.5, 1.4, 0.2], 7]", 1, "row must be a list of 4 numbers, got a number"),
    "row is a string": ('["5.1, 3.5, 1.4, 0.2"]', 0, "row must be a list of 4 numbers, got a string"),
    "row is an object": ('[{"a": 5.1}]', 0, "row must be a list of 4 numbers, got an object"),
    "row is null": ("[[5.1, 3.5, 1.4, 0.2], null]", 1, "row must be a list of 4 numbers, got null"),
    "three values": ("[[5.1, 3.5, 1.4]]", 0, "row must have exactly 4 values, got 3"),
    "five values": (
        "[[5.1, 3.5, 1.4, 0.2], [5.1, 3.5, 1.4, 0.2, 9]]",
        1,
        "row must have exactly 4 values, got 5",
    ),
    "no values": ("[[]]", 0, "row must have exactly 4 values, got 0"),
}


@pytest.mark.parametrize("route", routes())
@pytest.mark.parametrize(("crystal_data", "row", "error"), BAD_ROWS.values(), ids=BAD_ROWS.keys())
def test_row_that_is_not_four_values_is_422_naming_the_row(invoke, route, crystal_data, row, error):
    answer = invoke(route, proxy_event(route, body_for(route, crystal_data)))
    assert answer.status == HTTPStatus.UNPROCESSABLE_ENTITY
    assert answer.body["errors"] == [{"row": row, "error": error}]
    assert answer.body["errorCount"] == 1


BAD_VALUES = {
    "numeric string": ('"1.4"', "a string is not a number"),
    "word": ('"blue"', "a string is not a number"),
    "true": ("true", "a boolean is not a number"),
    "false": ("false", "a boolean is not a number"),
    "null": ("null", "null is not a number"),
    "nested list": ("[1.4]", "a list is not a number"),
    "object": ('{"v": 1.4}', "an object is not a number"),
    "NaN": ("NaN", "NaN is not a finite number"),
    "Infinity": ("Infinity", "Infinity is not a finite number"),
    "-Infinity": ("-Infinity", "-Infinity is not a finite number"),
    "overflowing float": ("1e400", "number overflows a double"),
    "overflowing negative float": ("-2.5e308", "number overflows a double"),
}


@pytest.mark.parametrize("route", routes())
@pytest.mark.parametrize(("value", "error"), BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_value_that_is_not_a_finite_number_is_422_naming_row_and_position(invoke, route, value, error):
    # Given a good row, then a row whose third value is bad
    crystal_data = f"[[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, {value}, 1.3]]"
    # When it is sent
    answer = invoke(route, proxy_event(route, body_for(route, crystal_data)))
    # Then the answer names the row, the position and the problem
    assert answer.status == HTTPStatus.UNPROCESSABLE_ENTITY
    assert answer.body == {
        "message": "crystalData has 1 invalid entry",
        "errors": [{"row": 1, "position": 2, "error": error}],
        "errorCount": 1,
    }


def test_error_body_stays_small_however_many_rows_are_bad(invoke):
    # Given ten thousand rows, every value a string
    crystal_data = json.dumps([["1", "2", "3", "4"]] * 10_000)
    # When they are sent
    answer = invoke("sklearn", proxy_event("sklearn", body_for("sklearn", crystal_data)))
    # Then all are counted, the first ten are shown, and the body stays small
    assert answer.status == HTTPStatus.UNPROCESSABLE_ENTITY
    assert answer.body["errorCount"] == 40_000
    assert answer.body["errors"][:2] == [
        {"row": 0, "position": 0, "error": "a string is not a number"},
        {"row": 0, "position": 1, "error": "a string is not a number"},
    ]
    assert len(answer.body["errors"]) == 10
    assert len(answer.raw_body) < 2_000


def test_huge_json_integer_is_a_number(invoke):
    # Given integers beyond 64 bits, which a double still holds
    answer = invoke("sklearn", proxy_event("sklearn", body_for("sklearn", "[[18446744073709551616, 0, 0, 0]]")))
    assert answer.status == HTTPStatus.OK
    assert len(answer.body["prediction"]) == 1


def test_integer_overflowing_a_double_is_422(invoke):
    crystal_data = "[[1" + "0" * 400 + ", 0, 0, 0]]"
    answer = invoke("pytorch", proxy_event("pytorch", body_for("pytorch", crystal_data)))
    assert answer.status == HTTPStatus.UNPROCESSABLE_ENTITY
    assert answer.body["errors"] == [{"row": 0, "position": 0, "error": "number overflows a double"}]


def test_invalid_base64_body_is_422(invoke):
    answer = invoke("sklearn", proxy_event("sklearn", "not base64!", base64=True))
    assert answer.status == HTTPStatus.UNPROCESSABLE_ENTITY
    assert answer.body == {"message": "request body is not valid base64"}


BAD_MODELS = {
    "missing": None,
    "null": "null",
    "number": "1",
    "boolean": "true",
    "list": '["sklearn"]',
    "object": '{"name": "sklearn"}',
    "unknown": '"tensorflow"',
    "wrong case": '"SKLearn"',
    "padded": '" sklearn"',
    "empty": '""',
}


@pytest.mark.parametrize("model", BAD_MODELS.values(), ids=BAD_MODELS.keys())
def test_astromech_without_a_known_model_is_400(invoke, model):
    body = '{"crystalData": [[5.1, 3.5, 1.4, 0.2]]' + ("" if model is None else f', "model": {model}') + "}"
    answer = invoke("astromech", proxy_event("astromech", body))
    assert answer.status == HTTPStatus.BAD_REQUEST
    assert '"sklearn" or "pytorch"' in answer.body["message"]


@pytest.mark.parametrize("model", BAD_MODELS.values(), ids=BAD_MODELS.keys())
@pytest.mark.parametrize("crystal_data", ['[[NaN, "x", 1]]', "[]", '"rows"', None])
def test_astromech_checks_the_model_before_the_data(invoke, model, crystal_data):
    # Given a bad model and bad (or missing) data
    fields = [f'"model": {model}' if model is not None else None]
    fields.append(f'"crystalData": {crystal_data}' if crystal_data is not None else None)
    body = "{" + ", ".join(field for field in fields if field) + "}"
    # When it is sent, then the model is what is reported
    answer = invoke("astromech", proxy_event("astromech", body))
    assert answer.status == HTTPStatus.BAD_REQUEST


@pytest.fixture
def max_rows(monkeypatch):
    configure_service(monkeypatch, KYBER_MAX_ROWS="5")
    return 5


@pytest.mark.parametrize("route", routes())
def test_more_rows_than_the_limit_is_413_with_the_limit(invoke, route, max_rows):
    answer = invoke(route, proxy_event(route, body_for(route, json.dumps([SAMPLE_ROW] * (max_rows + 1)))))
    assert answer.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert answer.body == {
        "message": "crystalData has 6 rows; the limit is 5 rows per request",
        "limit": 5,
    }


@pytest.mark.parametrize("route", routes())
def test_exactly_the_limit_is_served(invoke, route, max_rows):
    answer = invoke(route, proxy_event(route, body_for(route, json.dumps([SAMPLE_ROW] * max_rows))))
    assert answer.status == HTTPStatus.OK
    assert len(answer.body["prediction"]) == max_rows


def test_the_default_limit_is_served_and_one_row_more_is_a_413(invoke):
    over = invoke("sklearn", proxy_event("sklearn", body_for("sklearn", json.dumps([SAMPLE_ROW] * (ROW_LIMIT + 1)))))
    at = invoke("sklearn", proxy_event("sklearn", body_for("sklearn", json.dumps([SAMPLE_ROW] * ROW_LIMIT))))
    assert over.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert over.body["limit"] == ROW_LIMIT
    assert at.status == HTTPStatus.OK


def test_route_the_function_does_not_serve_is_a_json_404(invoke):
    # Given an event for a path the function has no route for
    event = proxy_event("sklearn", body_for("sklearn", json.dumps([SAMPLE_ROW])))
    event["path"] = event["resource"] = "/sklearn/v2"
    # When it reaches the handler, then the answer is a JSON 404 naming the routes
    answer = invoke("sklearn", event)
    assert answer.status == HTTPStatus.NOT_FOUND
    assert answer.body == {"message": "no such route; POST /sklearn"}


@pytest.mark.parametrize("suffix", ["X", "s"])
def test_a_path_that_only_begins_with_the_route_is_a_404(invoke, suffix):
    # Given a path that is the route's with more letters after it (/sklearn/v2 is the test above)
    event = proxy_event("sklearn", body_for("sklearn", json.dumps([SAMPLE_ROW])))
    event["path"] += suffix
    # When it reaches the handler, then no route answers it
    assert invoke("sklearn", event).status == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize("route", routes())
def test_the_route_answers_with_a_trailing_slash_too(invoke, route):
    # Given a POST to the route's path with a trailing slash, which API Gateway passes on as asked
    event = proxy_event(route, body_for(route, json.dumps([SAMPLE_ROW])))
    event["path"] += "/"
    # When it reaches the handler, then the route answers it
    answer = invoke(route, event)
    assert answer.status == HTTPStatus.OK
    assert len(answer.body["prediction"]) == 1


@pytest.mark.parametrize(("route", "value"), [("sklearn", "1e100"), ("pytorch", "1e30"), ("astromech", "-1e300")])
def test_huge_but_scorable_values_are_served(invoke, route, value):
    answer = invoke(route, proxy_event(route, body_for(route, f"[[0, 0, 0, {value}]]")))
    assert answer.status == HTTPStatus.OK
    assert len(answer.body["prediction"]) == 1


@pytest.mark.parametrize(
    ("route", "value", "model"),
    [("pytorch", "1e39", "pytorch"), ("sklearn", "1.7e308", "sklearn"), ("astromech", "1.75e308", "sklearn")],
)
def test_values_too_large_for_the_models_arithmetic_are_422_naming_the_rows(invoke, route, value, model):
    # Given finite values the model's own library cannot score either (float32 overflow for PyTorch)
    crystal_data = f"[[5.1, 3.5, 1.4, 0.2], [0, 0, 0, {value}], [0, 0, {value}, 0]]"
    # When they are sent, then the rows are named, not a server error
    answer = invoke(route, proxy_event(route, body_for(route, crystal_data)))
    assert answer.status == HTTPStatus.UNPROCESSABLE_ENTITY
    problem = f"the {model} model has no finite scores for values this large"
    assert answer.body == {
        "message": f"crystalData has 2 rows the {model} model cannot score",
        "errors": [{"row": 1, "error": problem}, {"row": 2, "error": problem}],
        "errorCount": 2,
    }


def nan_rows_body(route: str, size: int) -> str:
    """A body of about size bytes whose rows are all [NaN]."""
    rows = (size - 40) // 6
    return body_for(route, "[" + ",".join(["[NaN]"] * rows) + "]", model="sklearn")


@pytest.mark.parametrize("route", routes())
def test_a_large_body_that_is_not_strict_json_is_refused_without_reading_it_again(invoke, route):
    # Given a body beyond what any batch within the row limit needs, with NaN in it
    body = nan_rows_body(route, MAX_REREAD_BYTES + 1000)
    # When it is sent, then it is refused as not JSON, naming where the strict parser stopped
    answer = invoke(route, proxy_event(route, body))
    assert answer.status == HTTPStatus.UNPROCESSABLE_ENTITY
    assert answer.body["message"].startswith("request body is not valid JSON: ")
    assert set(answer.body) == {"message"}


@pytest.mark.parametrize("route", routes())
def test_a_body_within_the_reread_size_is_still_read_row_by_row(invoke, route):
    body = nan_rows_body(route, MAX_REREAD_BYTES - 1000)
    answer = invoke(route, proxy_event(route, body))
    assert answer.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert answer.body["limit"] == ROW_LIMIT
