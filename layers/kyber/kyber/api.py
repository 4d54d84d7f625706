"""The API's HTTP face: a REST resolver whose exception handlers map domain errors to statuses."""

from __future__ import annotations

from collections.abc import Callable
from http import HTTPStatus
from typing import Any

import orjson
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from kyber.errors import BatchTooLargeError, CrystalBatchError, ModelChoiceError, ServiceError
from kyber.observability import logger, metrics
from kyber.responses import json_response

# Looked up along the error's class hierarchy: a new ServiceError takes its nearest parent's status.
STATUS_BY_ERROR: dict[type[ServiceError], HTTPStatus] = {
    ServiceError: HTTPStatus.BAD_REQUEST,
    ModelChoiceError: HTTPStatus.BAD_REQUEST,
    CrystalBatchError: HTTPStatus.UNPROCESSABLE_ENTITY,
    BatchTooLargeError: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
}


def status_of(error: ServiceError) -> HTTPStatus:
    return next(STATUS_BY_ERROR[kind] for kind in type(error).__mro__ if kind in STATUS_BY_ERROR)


def _record_rejection(status: HTTPStatus, reason: str) -> None:
    logger.info("request rejected", status=int(status), reason=reason)
    metrics.add_metric(name="RequestsRejected", unit=MetricUnit.Count, value=1)


def _json_text(body: object) -> str:
    return orjson.dumps(body).decode()


def create_resolver() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(serializer=_json_text)

    def error_response(
        status: HTTPStatus, body: dict[str, object], headers: dict[str, str] | None = None
    ) -> Response[str]:
        return json_response(status, _json_text(body), headers)

    @app.not_found
    def unknown_route(_: Exception) -> Response[str]:
        # A served path asked with another method (the API sends every method of its routes here).
        path, method = app.current_event.path, app.current_event.http_method.upper()
        allowed = sorted({route.method for route in app._static_routes if route.path == path})
        if allowed:
            _record_rejection(HTTPStatus.METHOD_NOT_ALLOWED, f"{method} is not allowed on {path}")
            return error_response(
                HTTPStatus.METHOD_NOT_ALLOWED,
                {"message": f"{method} is not allowed on {path}; use {', '.join(allowed)}"},
                {"Allow": ", ".join(allowed)},
            )
        metrics.add_metric(name="RequestsRejected", unit=MetricUnit.Count, value=1)
        return error_response(HTTPStatus.NOT_FOUND, {"message": "no such route; POST /sklearn, /pytorch or /astromech"})

    @app.exception_handler(ServiceError)
    def client_error(error: ServiceError) -> Response[str]:
        status = status_of(error)
        _record_rejection(status, error.message)
        return error_response(status, error.body())

    @app.exception_handler(Exception)
    def server_error(error: Exception) -> Response[str]:
        request_id = app.lambda_context.aws_request_id
        logger.exception("request failed", request_id=request_id)
        metrics.add_metric(name="RequestsFailed", unit=MetricUnit.Count, value=1)
        return error_response(
            HTTPStatus.INTERNAL_SERVER_ERROR,
            {
                "message": "internal error while predicting; quote the requestId when reporting it",
                "requestId": request_id,
            },
        )

    return app


def unusable_event_problem(event: object) -> str | None:
    """Why the event is not an API Gateway REST proxy request the resolver can route, or None."""
    if not isinstance(event, dict):
        return "the event is not an API Gateway proxy request (not a JSON object)"
    for field in ("httpMethod", "path"):
        if not isinstance(event.get(field), str):
            return f"the event is not an API Gateway proxy request: {field} is missing or not a string"
    return None


def lambda_handler_for(app: APIGatewayRestResolver) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """Every function's handler: logs carry the Lambda context and API Gateway's request id, metrics
    (with the cold start) are flushed after each request, and the resolver answers; an event it
    cannot route is a JSON 400."""

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    @metrics.log_metrics(capture_cold_start_metric=True)
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        problem = unusable_event_problem(event)
        if problem is None:
            return app.resolve(event, context)
        _record_rejection(HTTPStatus.BAD_REQUEST, problem)
        return {
            "statusCode": int(HTTPStatus.BAD_REQUEST),
            "multiValueHeaders": {"Content-Type": [content_types.APPLICATION_JSON]},
            "body": _json_text({"message": problem}),
            "isBase64Encoded": False,
        }

    return lambda_handler
