"""POST /sklearn: crystal colours from the scikit-learn model, loaded once per execution environment."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from kyber.api import create_resolver
from kyber.service import classify, load_model

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = create_resolver()
model = load_model("sklearn")


@app.post("/sklearn")
@tracer.capture_method
def classify_with_sklearn() -> dict:
    return classify(app.current_event, model)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
