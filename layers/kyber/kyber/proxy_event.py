"""One view of an API Gateway REST proxy event, read the same way by every face: its body as sent, whether it is
base64, and its headers by lower-case name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

ProxyEvent = Mapping[str, Any]


def body_of(event: ProxyEvent) -> tuple[Any, bool]:
    """The body as API Gateway sent it (a string, or null), and whether it is base64: only when isBase64Encoded
    is the boolean true."""
    return event.get("body"), event.get("isBase64Encoded") is True


def headers_of(event: ProxyEvent) -> dict[str, Any]:
    """The headers by lower-case name (HTTP's names are case-insensitive, and API Gateway passes them as sent)."""
    return {str(name).lower(): value for name, value in (event.get("headers") or {}).items()}
