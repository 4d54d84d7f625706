"""The 200 response text: what orjson writes for the answer, and under Lambda's 6 MB payload limit at the row limit."""

from __future__ import annotations

import json

import numpy as np

from kyber.scores_json import prediction_json
from kyber.settings import DEFAULT_MAX_ROWS
from tests.support.rendering import rendered_row_by_row

LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024


def test_largest_response_at_the_default_limit_fits_lambdas_payload_limit():
    # Given the default number of rows, each score needing the longest text a probability can take
    longest_probability = 1.2345678901234567e-100
    scores = np.full((DEFAULT_MAX_ROWS, 3), longest_probability)
    # When the body is built and wrapped as API Gateway's proxy response, escaped once more
    body = prediction_json(("blue", "green", "yellow"), scores)
    proxy_response = json.dumps({"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": body})
    # Then it fits, with room to spare for longer label names
    size = len(proxy_response.encode())
    print(f"largest response for {DEFAULT_MAX_ROWS} rows: {size / 1e6:.2f} MB")
    assert size < LAMBDA_RESPONSE_LIMIT / 4


def test_the_response_text_is_what_orjson_writes_for_the_same_answer_as_objects():
    # Given scores of every magnitude a probability takes, and a label that JSON must escape
    scores = np.random.default_rng(3).random((500, 3)) ** np.array([1, 9, 40])
    scores[0] = [0.0, 1.0, 5e-324]
    labels = ("blue", 'gre"en', "yellow\u00e9")
    # When the response text is written from the array as a whole
    text = prediction_json(labels, scores)
    # Then it is, byte for byte, the JSON of the answer built row by row
    assert text == rendered_row_by_row(labels, scores).decode()


def test_labels_holding_percent_signs_are_written_as_they_are():
    # Given labels with the characters the row template formats with
    scores = np.array([[0.25, 0.5, 0.25], [0.7, 0.2, 0.1]])
    labels = ("100%", "%b green", "%%")
    # When the response text is written, then it names them exactly
    text = prediction_json(labels, scores)
    assert text == rendered_row_by_row(labels, scores).decode()
    assert json.loads(text)["prediction"] == ["%b green", "100%"]
