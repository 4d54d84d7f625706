"""POST /sklearn: crystal colours from the scikit-learn model, verified and loaded during init.

The same model under the Open Inference Protocol: /v2/models/sklearn[/versions/{version}], its /ready and /infer.
"""

from kyber.api import Api, lambda_handler_for
from kyber.inference_protocol import InferenceProtocol
from kyber.proxy_event import ProxyEvent
from kyber.responses import JsonResponse
from kyber.service import DROIDS, load_classifier

app = Api(DROIDS)
classifier = load_classifier("sklearn")


@app.post("/sklearn", doc=classifier.described("/sklearn", __doc__))
def classify_with_sklearn(event: ProxyEvent) -> JsonResponse:
    return classifier.classify(event)


protocol = InferenceProtocol(classifier)
protocol.add_model_routes(app, "/v2/models/sklearn")

lambda_handler = lambda_handler_for(app)
