"""POST /astromech: the request's "model" picks the model; every model is verified and loaded during init."""

from kyber.api import Api, ProxyEvent, lambda_handler_for
from kyber.responses import JsonResponse
from kyber.service import load_classifier

app = Api()
classifier = load_classifier()


@app.post("/astromech")
def classify_with_chosen_model(event: ProxyEvent) -> JsonResponse:
    return classifier.classify(event)


lambda_handler = lambda_handler_for(app)
