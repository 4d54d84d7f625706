"""The protocol's codec: an input tensor's data decoded into the float64 batch the models score, each declared
datatype holding exactly its own range, and bad values listed by row and position (the first three, all counted)."""

from __future__ import annotations

import numpy as np
import pytest

from kyber.errors import CrystalBatchError, InferenceRequestError
from kyber.inference_protocol.codec import FLOAT_LIMITS, INTEGER_DATATYPES, InputLimits, decoded

LIMITS = InputLimits("crystal_data", features=4, max_rows=10)


def test_an_integer_tensor_is_decoded_into_a_float64_batch_of_the_same_numbers():
    batch = decoded([5, 3, 1, 0, 6, 2, 4, 2**53 + 1], "INT64", 2, LIMITS)
    assert batch.dtype == np.float64
    assert batch.tolist() == [[5.0, 3.0, 1.0, 0.0], [6.0, 2.0, 4.0, float(2**53 + 1)]]


def test_nested_rows_are_decoded_as_their_flat_values():
    rows = [[0.92, 0.12, 0.31, 0.09], [6.2, 2.9, 4.3, 1.3]]
    assert decoded(rows, "FP64", 2, LIMITS).tolist() == rows
    assert decoded([value for row in rows for value in row], "FP64", 2, LIMITS).tolist() == rows


@pytest.mark.parametrize("datatype", ["FP16", "FP32"])
def test_a_float_datatype_holds_values_up_to_its_largest_finite_value_of_either_sign(datatype):
    # Given the largest finite value of the declared datatype, the same with the sign, and both just beyond it
    limit = FLOAT_LIMITS[datatype]
    beyond = float(np.nextafter(limit, np.inf))
    # Then the limit is decoded as it is, and a value beyond it is refused naming the datatype and its range
    assert decoded([limit, -limit, 0, 1], datatype, 1, LIMITS).tolist() == [[limit, -limit, 0.0, 1.0]]
    for value in (beyond, -beyond):
        with pytest.raises(CrystalBatchError) as refused:
            decoded([0, value, 0, 1], datatype, 1, LIMITS)
        assert refused.value.message == f"input 'crystal_data' holds values beyond {datatype}'s range (±{limit:g})"


def test_fp64_holds_any_finite_double():
    largest = float(np.finfo(np.float64).max)
    assert decoded([largest, -largest, 0, 1], "FP64", 1, LIMITS).tolist() == [[largest, -largest, 0.0, 1.0]]


@pytest.mark.parametrize("datatype", sorted(INTEGER_DATATYPES))
def test_an_integer_datatype_holds_whole_numbers_from_its_lowest_to_its_highest(datatype):
    low, high = INTEGER_DATATYPES[datatype]
    assert decoded([low, high, low, high], datatype, 1, LIMITS).tolist() == [[float(low), float(high)] * 2]
    for outside in ([low - 1, high, 0, 0], [low, high + 1, 0, 0], [low, high, 0.0, 0]):
        with pytest.raises(InferenceRequestError) as refused:
            decoded(outside, datatype, 1, LIMITS)
        assert refused.value.message == (
            f"input 'crystal_data' is declared {datatype}: every value must be a whole number from {low} to {high}"
        )


def test_bad_values_are_listed_by_row_and_position_the_first_three_and_all_counted():
    data = [1.0, "a", None, 2.0, True, 3.0, [1], 4.0]
    with pytest.raises(CrystalBatchError) as refused:
        decoded(data, "FP64", 2, LIMITS)
    assert refused.value.message == (
        "input 'crystal_data' has 4 invalid values: row 0 position 1: a string is not a number;"
        " row 0 position 2: null is not a number; row 1 position 0: a boolean is not a number"
    )


def test_one_bad_value_is_counted_in_the_singular():
    with pytest.raises(CrystalBatchError) as refused:
        decoded([1.0, 2.0, 3.0, "4"], "FP64", 1, LIMITS)
    assert (
        refused.value.message == "input 'crystal_data' has 1 invalid value: row 0 position 3: a string is not a number"
    )
