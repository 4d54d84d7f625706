"""POST /pytorch: crystal colours from the PyTorch model, verified and loaded during init."""

from aws_lambda_powertools.event_handler import Response

from kyber.api import create_resolver, lambda_handler_for
from kyber.service import endpoint

app = create_resolver()
classifier = endpoint("pytorch")


@app.post("/pytorch")
def classify_with_pytorch() -> Response[str]:
    return classifier.classify(app.current_event)


lambda_handler = lambda_handler_for(app)
