"""Each function's router, answering API Gateway REST proxy events, and the one table that maps domain errors to
statuses. It knows nothing of the application: each face (the droids' API, the Open Inference Protocol) brings its
routes and a Face saying how its errors are written and what a path it lacks is told.

A function serves a handful of routes, so routing is a dictionary lookup for literal paths and, for paths with
parameters (`/v2/models/{model}/infer`), a comparison segment by segment: Powertools' event handler, made for
many routes and event sources, costs a noticeable part of a cold start to import (docs/design.md, decision 5).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from kyber.errors import (
    BatchTooLargeError,
    CrystalBatchError,
    InferenceRequestError,
    ModelChoiceError,
    ModelNotFoundError,
    NotJsonError,
    ServiceError,
)
from kyber.invocation import answering
from kyber.observability import logger, metric_lines_enabled, metrics
from kyber.responses import JsonResponse, json_text
from kyber.route_docs import RouteDoc

# Looked up along the error's class hierarchy: a new ServiceError takes its nearest parent's status.
STATUS_BY_ERROR: dict[type[ServiceError], HTTPStatus] = {
    ServiceError: HTTPStatus.BAD_REQUEST,
    ModelChoiceError: HTTPStatus.BAD_REQUEST,
    CrystalBatchError: HTTPStatus.UNPROCESSABLE_ENTITY,
    BatchTooLargeError: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    InferenceRequestError: HTTPStatus.BAD_REQUEST,
    ModelNotFoundError: HTTPStatus.NOT_FOUND,
    NotJsonError: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
}

# The 500's message; its requestId says which log lines hold the details.
INTERNAL_ERROR_MESSAGE = "internal error while predicting; quote the requestId when reporting it"

# A route is called with the event and, as keyword arguments, its path's parameters.
Route = Callable[..., JsonResponse]
# A face's routes in one function: their paths, each with its methods.
Routes = Mapping[str, Collection[str]]
LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def status_of(error: ServiceError) -> HTTPStatus:
    return next(STATUS_BY_ERROR[kind] for kind in type(error).__mro__ if kind in STATUS_BY_ERROR)


@dataclass(frozen=True)
class Face:
    """One face of the API: the paths it lives under (a prefix; empty for everywhere), how it writes an error's
    message and details in the shape its clients read, and what it answers for a path it does not have, given the
    routes it has in the function."""

    prefix: str
    error_body: Callable[[str, Mapping[str, object]], dict[str, object]]
    not_found: Callable[[str, Routes], dict[str, object]]

    def lives_under(self, path: str) -> bool:
        return not self.prefix or path == self.prefix or path.startswith(self.prefix + "/")


def error_response(
    status: HTTPStatus, body: Mapping[str, object], headers: Mapping[str, str] | None = None
) -> JsonResponse:
    return JsonResponse(status, json_text(body), headers or {})


def rejection(
    status: HTTPStatus, reason: str, body: Mapping[str, object] | None = None, **headers: str
) -> JsonResponse:
    """A 4xx answer, logged with its reason and counted; its body is the reason unless given."""
    logger.info("request rejected", status=int(status), reason=reason)
    metrics.add_metric(name="RequestsRejected", unit=MetricUnit.Count, value=1)
    return error_response(status, body or {"message": reason}, headers)


def failure_body(face: Face, request_id: str) -> dict[str, object]:
    """The 500's body in a face's shape: the generic message and the request id that finds the log lines."""
    return {**face.error_body(INTERNAL_ERROR_MESSAGE, {}), "requestId": request_id}


def routes_text(routes: Routes) -> str:
    """Routes as a hint says them: each method with its paths, in the order they were added ("GET /a, /b and POST
    /c")."""
    paths_by_method: dict[str, list[str]] = {}
    for path, methods in routes.items():
        for method in methods:
            paths_by_method.setdefault(method, []).append(path)
    return " and ".join(f"{method} {', '.join(paths)}" for method, paths in paths_by_method.items())


def _segments(path: str) -> tuple[str, ...]:
    return tuple(path.split("/"))


def _is_parameter(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


class Api:
    """The routes of one function: by path, then by method. A path may have parameters, `{name}` segments. Each
    path belongs to a face, the function's own (default) unless its route names another, and a route may bring its
    description (a RouteDoc, built when asked for: scripts/openapi.py asks)."""

    def __init__(self, default_face: Face) -> None:
        self.default_face = default_face
        self.routes: dict[str, dict[str, Route]] = {}
        self.faces: dict[str, Face] = {}
        self.docs: dict[str, dict[str, Callable[[], RouteDoc]]] = {}
        self._templates: list[tuple[tuple[str, ...], str]] = []

    def route(
        self, method: str, path: str, face: Face | None = None, doc: Callable[[], RouteDoc] | None = None
    ) -> Callable[[Route], Route]:
        def register(route: Route) -> Route:
            if path not in self.routes:
                self.routes[path] = {}
                self.docs[path] = {}
                self.faces[path] = face or self.default_face
                if any(map(_is_parameter, _segments(path))):
                    self._templates.append((_segments(path), path))
            self.routes[path][method.upper()] = route
            if doc is not None:
                self.docs[path][method.upper()] = doc
            return route

        return register

    def post(
        self, path: str, face: Face | None = None, doc: Callable[[], RouteDoc] | None = None
    ) -> Callable[[Route], Route]:
        return self.route("POST", path, face, doc)

    def get(
        self, path: str, face: Face | None = None, doc: Callable[[], RouteDoc] | None = None
    ) -> Callable[[Route], Route]:
        return self.route("GET", path, face, doc)

    def routes_of(self, face: Face) -> Routes:
        """The face's routes in this function, in the order they were added."""
        return {path: list(methods) for path, methods in self.routes.items() if self.faces[path] is face}

    def face_of(self, path: str) -> Face:
        """The face a path belongs to: its route's, or for a path with no route, the face whose prefix it is under
        (the longest), else the function's own."""
        matched = self.match(path.rstrip("/"))
        if matched is not None:
            return self.faces[matched[0]]
        under = [face for face in dict.fromkeys(self.faces.values()) if face.prefix and face.lives_under(path)]
        return max(under, key=lambda face: len(face.prefix), default=self.default_face)

    def match(self, path: str) -> tuple[str, dict[str, str]] | None:
        """The registered path that path is, and its parameters' values; a literal path wins over a template."""
        if path in self.routes:
            return path, {}
        segments = _segments(path)
        for template_segments, template in self._templates:
            if len(template_segments) != len(segments):
                continue
            parameters = {}
            for expected, given in zip(template_segments, segments, strict=True):
                if _is_parameter(expected) and given:
                    parameters[expected[1:-1]] = given
                elif expected != given:
                    break
            else:
                return template, parameters
        return None

    def resolve(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """The proxy response to one event: the route's answer, or the error it raised as JSON."""
        path = event.get("path") if isinstance(event, dict) else None
        path = path if isinstance(path, str) else ""
        try:
            return self._answer(event).to_proxy_response()
        except ServiceError as error:
            body = self.face_of(path).error_body(error.message, error.details)
            return rejection(status_of(error), error.message, body).to_proxy_response()
        except Exception:
            logger.exception("request failed", request_id=context.aws_request_id)
            count_failure(context)
            body = failure_body(self.face_of(path), context.aws_request_id)
            return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, body).to_proxy_response()

    def _answer(self, event: dict[str, Any]) -> JsonResponse:
        problem = unusable_event_problem(event)
        if problem is not None:
            return rejection(HTTPStatus.BAD_REQUEST, problem)
        # API Gateway sends the path as asked: /sklearn/ reaches the /sklearn route.
        path, method = event["path"].rstrip("/"), event["httpMethod"].upper()
        matched = self.match(path)
        if matched is None:
            face = self.face_of(path)
            body = face.not_found(path, self.routes_of(face))
            return rejection(HTTPStatus.NOT_FOUND, f"no route for {method} {event['path']}", body)
        template, parameters = matched
        methods = self.routes[template]
        if method not in methods:
            # The API sends every method of its routes here, to be answered in JSON.
            allowed = ", ".join(methods)
            return rejection(
                HTTPStatus.METHOD_NOT_ALLOWED,
                f"{method} is not allowed on {path}",
                self.faces[template].error_body(f"{method} is not allowed on {path}; use {' or '.join(methods)}", {}),
                Allow=allowed,
            )
        return methods[method](event, **parameters)


def count_failure(context: LambdaContext) -> None:
    """One RequestsFailed, written at once on a line of its own, by function and version: the deployment
    alarm of the version `live` is moving to counts these, whatever share of the traffic it has."""
    with single_metric(name="RequestsFailed", unit=MetricUnit.Count, value=1) as failed:
        failed.add_dimension(name="function_name", value=context.function_name)
        failed.add_dimension(name="function_version", value=context.function_version)


def unusable_event_problem(event: object) -> str | None:
    """Why the event is not an API Gateway REST proxy request that can be routed, or None."""
    if not isinstance(event, dict):
        return "the event is not an API Gateway proxy request (not a JSON object)"
    for field in ("httpMethod", "path"):
        if not isinstance(event.get(field), str):
            return f"the event is not an API Gateway proxy request: {field} is missing or not a string"
    return None


def lambda_handler_for(app: Api) -> LambdaHandler:
    """Every function's handler: logs carry the Lambda context and API Gateway's request id, metrics
    (with the cold start) are flushed after each request, and the API answers. Powertools writes its cold-start
    metric even with its metrics disabled, so it is asked for only when they are not."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    @metrics.log_metrics(capture_cold_start_metric=metric_lines_enabled())
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        with answering(context):
            return app.resolve(event, context)

    return lambda_handler
