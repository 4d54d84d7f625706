"""POST /astromech: the request's "model" picks the model; every model is verified and loaded during init."""

from aws_lambda_powertools.event_handler import Response

from kyber.api import create_resolver, lambda_handler_for
from kyber.service import endpoint

app = create_resolver()
classifier = endpoint()


@app.post("/astromech")
def classify_with_chosen_model() -> Response[str]:
    return classifier.classify(app.current_event)


lambda_handler = lambda_handler_for(app)
