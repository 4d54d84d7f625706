"""The API's HTTP face: a REST resolver whose exception handlers map domain errors to statuses."""

from __future__ import annotations

from http import HTTPStatus

import orjson
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.metrics import Metrics, MetricUnit

from kyber.errors import BatchTooLargeError, CrystalBatchError, ModelChoiceError, ServiceError

STATUS_BY_ERROR: dict[type[ServiceError], HTTPStatus] = {
    ModelChoiceError: HTTPStatus.BAD_REQUEST,
    CrystalBatchError: HTTPStatus.UNPROCESSABLE_ENTITY,
    BatchTooLargeError: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
}

logger = Logger(child=True)
metrics = Metrics()


def _json_text(body: object) -> str:
    return orjson.dumps(body).decode()


def create_resolver() -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(serializer=_json_text)

    def error_response(status: HTTPStatus, body: dict[str, object]) -> Response[str]:
        return Response(status_code=int(status), content_type=content_types.APPLICATION_JSON, body=_json_text(body))

    @app.not_found
    def unknown_route(_: Exception) -> Response[str]:
        metrics.add_metric(name="RequestsRejected", unit=MetricUnit.Count, value=1)
        return error_response(HTTPStatus.NOT_FOUND, {"message": "no such route; POST /sklearn, /pytorch or /astromech"})

    @app.exception_handler(ServiceError)
    def client_error(error: ServiceError) -> Response[str]:
        status = STATUS_BY_ERROR[type(error)]
        logger.info("request rejected", status=int(status), reason=error.message)
        metrics.add_metric(name="RequestsRejected", unit=MetricUnit.Count, value=1)
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
