"""The invocation being answered, as the code below the routes sees it: Lambda's request id and the time left within
one, nothing outside one."""

from __future__ import annotations

from typing import Any, cast

from kyber.invocation import answering, lambda_request_id, remaining_ms
from scripts.harness.events import FakeLambdaContext


def test_within_an_invocation_its_request_id_and_time_left_are_known_and_outside_none():
    context = FakeLambdaContext(aws_request_id="8f1d2c3b-invocation")
    assert (lambda_request_id(), remaining_ms()) == ("", None)
    with answering(cast(Any, context)):
        assert (lambda_request_id(), remaining_ms()) == ("8f1d2c3b-invocation", 10_000)
    assert (lambda_request_id(), remaining_ms()) == ("", None)
