"""schemathesis hooks for the contract test (tests/integration/test_contract.py)."""

from __future__ import annotations

import schemathesis


@schemathesis.hook
def filter_body(_: object, body: object) -> bool:
    """Skip bodies that are not UTF-8: sam local start-api answers them with its own 502 before any
    function runs. What the functions answer to such bytes, base64-encoded, is a unit test."""
    if not isinstance(body, bytes):
        return True
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
