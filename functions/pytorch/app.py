"""POST /pytorch: crystal colours from the PyTorch model, verified and loaded during init.

The same model under the Open Inference Protocol: /v2/models/pytorch[/versions/{version}], its /ready and /infer.
"""

from kyber.api import Api, lambda_handler_for
from kyber.core import load_scorer
from kyber.droids import DROIDS, DroidsApi
from kyber.inference_protocol import InferenceProtocol
from kyber.proxy_event import ProxyEvent
from kyber.responses import JsonResponse

app = Api(DROIDS)
scorer = load_scorer("pytorch")
droids = DroidsApi(scorer)
protocol = InferenceProtocol(scorer)


@app.post("/pytorch", doc=droids.described("/pytorch", __doc__))
def classify_with_pytorch(event: ProxyEvent) -> JsonResponse:
    return droids.classify(event)


protocol.add_model_routes(app, "/v2/models/pytorch")

lambda_handler = lambda_handler_for(app)
