"""POST /pytorch: crystal colours from the PyTorch model, verified and loaded during init."""

from kyber.api import Api, ProxyEvent, lambda_handler_for
from kyber.responses import JsonResponse
from kyber.service import load_classifier

app = Api()
classifier = load_classifier("pytorch")


@app.post("/pytorch")
def classify_with_pytorch(event: ProxyEvent) -> JsonResponse:
    return classifier.classify(event)


lambda_handler = lambda_handler_for(app)
