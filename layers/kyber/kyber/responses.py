"""What a function answers: a JSON response in API Gateway's proxy format, and the headers with which every face's
200 says which model scored the request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import orjson

APPLICATION_JSON = "application/json"
# Every 200 says which model scored the request, and which build of it.
MODEL_HEADER = "X-Kyber-Model"
MODEL_VERSION_HEADER = "X-Kyber-Model-Version"


@dataclass(frozen=True)
class JsonResponse:
    """A JSON answer: its status, its body as JSON text, and headers besides Content-Type."""

    status: HTTPStatus
    body: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def to_proxy_response(self) -> dict[str, Any]:
        """The response as API Gateway's REST proxy integration takes it."""
        headers = {name: [value] for name, value in self.headers.items()}
        headers["Content-Type"] = [APPLICATION_JSON]
        return {
            "statusCode": int(self.status),
            "multiValueHeaders": headers,
            "body": self.body,
            "isBase64Encoded": False,
        }


def json_text(body: object) -> str:
    return orjson.dumps(body).decode()
