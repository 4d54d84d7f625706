"""The default row limit keeps the largest possible response under Lambda's 6 MB payload limit."""

from __future__ import annotations

import json

import numpy as np
import orjson

from kyber.responses import prediction_body
from kyber.settings import DEFAULT_MAX_ROWS

LAMBDA_RESPONSE_LIMIT = 6 * 1024 * 1024


def test_largest_response_at_the_default_limit_fits_lambdas_payload_limit():
    # Given the default number of rows, each score needing the longest text a probability can take
    longest_probability = 1.2345678901234567e-100
    scores = np.full((DEFAULT_MAX_ROWS, 3), longest_probability)
    # When the body is built and wrapped as API Gateway's proxy response, escaped once more
    body = orjson.dumps(prediction_body(("blue", "green", "yellow"), scores)).decode()
    proxy_response = json.dumps({"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": body})
    # Then it fits, with room to spare for longer label names
    size = len(proxy_response.encode())
    print(f"largest response for {DEFAULT_MAX_ROWS} rows: {size / 1e6:.2f} MB")
    assert size < LAMBDA_RESPONSE_LIMIT / 4
