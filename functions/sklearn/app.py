"""POST /sklearn: crystal colours from the scikit-learn model, verified and loaded during init."""

from kyber.api import Api, ProxyEvent, lambda_handler_for
from kyber.responses import JsonResponse
from kyber.service import load_classifier

app = Api()
classifier = load_classifier("sklearn")


@app.post("/sklearn")
def classify_with_sklearn(event: ProxyEvent) -> JsonResponse:
    return classifier.classify(event)


lambda_handler = lambda_handler_for(app)
