"""The API's HTTP face: each function's routes, answered from API Gateway REST proxy events, and the one
table that maps domain errors to statuses.

A function serves one POST route, so routing is a dictionary lookup here: Powertools' event handler, made
for many routes and event sources, costs a noticeable part of a cold start to import (README, "Routing").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from kyber.errors import BatchTooLargeError, CrystalBatchError, ModelChoiceError, ServiceError
from kyber.observability import logger, metrics
from kyber.responses import JsonResponse, json_text

# Looked up along the error's class hierarchy: a new ServiceError takes its nearest parent's status.
STATUS_BY_ERROR: dict[type[ServiceError], HTTPStatus] = {
    ServiceError: HTTPStatus.BAD_REQUEST,
    ModelChoiceError: HTTPStatus.BAD_REQUEST,
    CrystalBatchError: HTTPStatus.UNPROCESSABLE_ENTITY,
    BatchTooLargeError: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
}

# The 500's message; its requestId says which log lines hold the details.
INTERNAL_ERROR_MESSAGE = "internal error while predicting; quote the requestId when reporting it"

ProxyEvent = Mapping[str, Any]
Route = Callable[[ProxyEvent], JsonResponse]
LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def status_of(error: ServiceError) -> HTTPStatus:
    return next(STATUS_BY_ERROR[kind] for kind in type(error).__mro__ if kind in STATUS_BY_ERROR)


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


class Api:
    """The POST routes of one function, by path."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}

    def post(self, path: str) -> Callable[[Route], Route]:
        def register(route: Route) -> Route:
            self.routes[path] = route
            return route

        return register

    def resolve(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        """The proxy response to one event: the route's answer, or the error it raised as JSON."""
        try:
            return self._answer(event).to_proxy_response()
        except ServiceError as error:
            status = status_of(error)
            return rejection(status, error.message, error.body()).to_proxy_response()
        except Exception:
            logger.exception("request failed", request_id=context.aws_request_id)
            count_failure(context)
            body = {"message": INTERNAL_ERROR_MESSAGE, "requestId": context.aws_request_id}
            return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, body).to_proxy_response()

    def _answer(self, event: dict[str, Any]) -> JsonResponse:
        problem = unusable_event_problem(event)
        if problem is not None:
            return rejection(HTTPStatus.BAD_REQUEST, problem)
        # API Gateway sends the path as asked: /sklearn/ reaches the /sklearn route.
        path, method = event["path"].rstrip("/"), event["httpMethod"].upper()
        route = self.routes.get(path)
        if route is None:
            return rejection(
                HTTPStatus.NOT_FOUND,
                f"no route for {method} {event['path']}",
                {"message": "no such route; POST /sklearn, /pytorch or /astromech"},
            )
        if method != "POST":
            # The API sends every method of its routes here, to be answered in JSON.
            return rejection(
                HTTPStatus.METHOD_NOT_ALLOWED,
                f"{method} is not allowed on {path}",
                {"message": f"{method} is not allowed on {path}; use POST"},
                Allow="POST",
            )
        return route(event)


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
    (with the cold start) are flushed after each request, and the API answers."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    @metrics.log_metrics(capture_cold_start_metric=True)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return app.resolve(event, context)

    return lambda_handler
