"""A stand-in for API Gateway in front of the handlers, over HTTP on loopback: a 403 without the key it is given,
a 500 from the routes named broken, and each other POST answered by the route's lambda_handler in-process."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from scripts.harness.events import FakeLambdaContext, proxy_event

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class StandInGateway:
    """Serves handlers by route at http://127.0.0.1:<port>/v1/<route> until closed."""

    def __init__(self, handlers: Mapping[str, Handler], key: str | None, broken: frozenset[str] = frozenset()) -> None:
        class Gateway(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                route = self.path.removeprefix("/v1/")
                if key is not None and self.headers.get("x-api-key") != key:
                    self.answer(HTTPStatus.FORBIDDEN, '{"message":"Forbidden"}')
                elif route not in handlers:
                    self.answer(HTTPStatus.FORBIDDEN, '{"message":"Missing Authentication Token"}')
                elif route in broken:
                    self.answer(HTTPStatus.INTERNAL_SERVER_ERROR, '{"message":"internal error"}')
                else:
                    response = handlers[route](proxy_event(route, body), FakeLambdaContext())
                    self.answer(response["statusCode"], response["body"])

            def answer(self, status: int, body: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body.encode())))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
