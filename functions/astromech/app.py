"""POST /astromech: the request's "model" picks the model; each is loaded on its first use."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from kyber.api import create_resolver
from kyber.registry import get_registry
from kyber.service import classify_with_chosen_model

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = create_resolver()
registry = get_registry()


@app.post("/astromech")
@tracer.capture_method
def classify_with_chosen() -> dict:
    return classify_with_chosen_model(app.current_event, registry)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
