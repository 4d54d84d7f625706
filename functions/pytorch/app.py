"""POST /pytorch: crystal colours from the PyTorch model, verified and loaded during init.

The same model under the Open Inference Protocol: /v2/models/pytorch[/versions/{version}], its /ready and /infer.
"""

from kyber.api import Api, lambda_handler_for
from kyber.inference_protocol import InferenceProtocol
from kyber.proxy_event import ProxyEvent
from kyber.responses import JsonResponse
from kyber.service import DROIDS, load_classifier

app = Api(DROIDS)
classifier = load_classifier("pytorch")


@app.post("/pytorch", doc=classifier.described("/pytorch", __doc__))
def classify_with_pytorch(event: ProxyEvent) -> JsonResponse:
    return classifier.classify(event)


protocol = InferenceProtocol(classifier)
protocol.add_model_routes(app, "/v2/models/pytorch")

lambda_handler = lambda_handler_for(app)
