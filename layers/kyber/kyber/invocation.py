"""The invocation being answered, for what needs its Lambda context below the routes: how much time it has left."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from aws_lambda_powertools.utilities.typing import LambdaContext

_current: ContextVar[LambdaContext | None] = ContextVar("invocation", default=None)


@contextmanager
def answering(context: LambdaContext) -> Iterator[None]:
    """The context of the invocation answered within."""
    token = _current.set(context)
    try:
        yield
    finally:
        _current.reset(token)


def remaining_ms() -> int | None:
    """Milliseconds the invocation has left before its timeout; None outside an invocation."""
    context = _current.get()
    return None if context is None else int(context.get_remaining_time_in_millis())


def lambda_request_id() -> str:
    """Lambda's id of the invocation being answered; empty outside one."""
    context = _current.get()
    return "" if context is None else str(context.aws_request_id)
