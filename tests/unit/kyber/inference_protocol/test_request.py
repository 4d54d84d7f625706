"""An inference request read by the protocol's parser: what is wrong with it said exactly, with what was sent
described by its JSON kind or quoted at a bounded length."""

from __future__ import annotations

from typing import Any

import pytest

from kyber.errors import InferenceRequestError, NotJsonError
from kyber.inference_protocol.codec import InputLimits
from kyber.inference_protocol.request import parse_inference_request, require_json

LIMITS = InputLimits("crystal_data", features=4, max_rows=10)
OUTPUT_NAMES = ("probabilities", "label")
TENSOR = {"name": "crystal_data", "datatype": "FP64", "shape": [1, 4], "data": [0.92, 0.12, 0.31, 0.09]}


def refusal(payload: dict[str, Any]) -> str:
    with pytest.raises(InferenceRequestError) as refused:
        parse_inference_request(payload, LIMITS, OUTPUT_NAMES)
    return refused.value.message


@pytest.mark.parametrize(
    ("inputs", "described"),
    [
        (None, "nothing"),
        ([], "a list"),
        ([TENSOR, 7], "a list"),
        ([TENSOR, TENSOR], "a list of 2"),
        (TENSOR, "an object"),
        ("crystal_data", "a string"),
    ],
    ids=["null", "empty", "not all objects", "two objects", "an object", "a string"],
)
def test_inputs_that_are_not_one_tensor_are_described_by_what_they_are(inputs, described):
    message = refusal({"inputs": inputs})
    assert message == f"inputs must be a list of one tensor object, 'crystal_data'; got {described}"


def test_without_inputs_the_refusal_says_nothing_was_sent():
    assert refusal({}) == "inputs must be a list of one tensor object, 'crystal_data'; got nothing"


def test_an_unknown_input_name_is_quoted_up_to_forty_characters():
    name = "x" * 39 + "yz"
    message = refusal({"inputs": [{**TENSOR, "name": name}]})
    assert message == f"unknown input '{'x' * 39}y': the model's one input is 'crystal_data'"


@pytest.mark.parametrize("rows", [2.5, 0.5, 1.0000001])
def test_a_shape_of_a_fractional_row_count_is_refused(rows):
    message = refusal({"inputs": [{**TENSOR, "shape": [rows, 4]}]})
    assert message == f"input 'crystal_data' shape must be [n, 4] with n from 1 to 10; got [{rows},4]"


def test_a_shape_of_a_whole_float_row_count_is_read_as_that_many_rows():
    # The fallback parser of a body holding NaN gives every number as a float; here, a whole one
    batch = parse_inference_request({"inputs": [{**TENSOR, "shape": [1.0, 4.0]}]}, LIMITS, OUTPUT_NAMES).batch
    assert batch.tolist() == [TENSOR["data"]]


@pytest.mark.parametrize("size", ["1", None, True, [1]], ids=["a string", "null", "a boolean", "a list"])
def test_a_shape_of_sizes_that_are_not_numbers_is_refused(size):
    message = refusal({"inputs": [{**TENSOR, "shape": [size, 4]}]})
    assert message.startswith("input 'crystal_data' shape must be [n, 4] with n from 1 to 10; got [")


def test_a_long_shape_is_quoted_up_to_sixty_characters():
    shape = [1, 4, *range(100, 130)]
    message = refusal({"inputs": [{**TENSOR, "shape": shape}]})
    written = "[1,4," + ",".join(map(str, range(100, 130))) + "]"
    assert message == f"input 'crystal_data' shape must be [n, 4] with n from 1 to 10; got {written[:60]}"


@pytest.mark.parametrize("outputs", [[], None, {"name": "label"}, [{"name": "label"}, "label"]])
def test_outputs_that_are_not_a_list_of_objects_are_refused(outputs):
    message = refusal({"inputs": [TENSOR], "outputs": outputs})
    assert message == "outputs must be a non-empty list of objects, each with a name"


@pytest.mark.parametrize(
    ("count", "written"),
    [("2" * 50, '"' + "2" * 39), (2.0, "2.0"), (True, "true"), (0, "0")],
    ids=["a long string", "a float", "a boolean", "zero"],
)
def test_a_classification_count_that_is_not_a_whole_number_from_one_is_shown_as_sent(count, written):
    outputs = [{"name": "probabilities", "parameters": {"classification": count}}]
    message = refusal({"inputs": [TENSOR], "outputs": outputs})
    assert message == f"classification must be a whole number from 1 to the number of labels; got {written}"


@pytest.mark.parametrize(
    "content_type",
    ["application/octet-stream", "Application/Octet-Stream ; charset=binary", "application/octet-stream;x=1"],
)
def test_an_octet_stream_body_is_refused_whatever_its_parameters_and_case(content_type):
    with pytest.raises(NotJsonError, match=r"^Content-Type application/octet-stream is not accepted; send the tensors"):
        require_json({"headers": {"Content-Type": content_type}, "body": "{}"})


@pytest.mark.parametrize("headers", [None, {}, {"Content-Type": "application/json; charset=utf-8"}])
def test_a_json_or_untyped_body_is_read(headers):
    require_json({"headers": headers, "body": "{}"})
