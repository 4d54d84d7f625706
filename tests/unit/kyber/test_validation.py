"""The request parsing both faces share: a body read as text or base64, and every number it holds either a finite
one or a marker of what is wrong with it, which is all the batch checks rely on to never pass a non-finite value."""

from __future__ import annotations

import base64
import math

import pytest

from kyber.errors import CrystalBatchError
from kyber.validation import parse_json_body, value_problem


def test_a_body_is_read_as_plain_text_unless_it_is_said_to_be_base64():
    text = '{"crystalData": [[1, 2.5]]}'
    assert parse_json_body(text) == {"crystalData": [[1, 2.5]]}
    assert parse_json_body(base64.b64encode(text.encode()).decode(), is_base64_encoded=True) == parse_json_body(text)
    with pytest.raises(CrystalBatchError, match=r"^request body is not valid base64$"):
        parse_json_body(text, is_base64_encoded=True)


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        ("NaN", "NaN is not a finite number"),
        ("Infinity", "Infinity is not a finite number"),
        ("-Infinity", "-Infinity is not a finite number"),
        ("1e400", "number overflows a double"),
        ("-1e400", "number overflows a double"),
        ("1" + "0" * 400, "number overflows a double"),
    ],
)
def test_a_number_a_double_cannot_hold_is_given_as_the_marker_of_its_problem(written, problem):
    # Given a body holding one such number among finite ones
    values = parse_json_body(f"[1, {written}, 2.5, {2**70}]")
    # Then that one is its problem, and every other value is a finite number with none
    assert value_problem(values[1]) == problem
    for value in (values[0], values[2], values[3]):
        assert type(value) in (int, float)
        assert math.isfinite(value)
        assert value_problem(value) is None


@pytest.mark.parametrize(
    ("value", "problem"),
    [("1", "a string is not a number"), (True, "a boolean is not a number"), (None, "null is not a number")],
)
def test_a_value_that_is_not_a_number_is_said_to_be_what_it_is(value, problem):
    assert value_problem(value) == problem
