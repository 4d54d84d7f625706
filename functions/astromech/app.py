"""POST /astromech: the request's "model" picks the model; every model is verified and loaded during init.

Under the Open Inference Protocol it answers for the server (GET /v2, /v2/health/live and /ready) and for any
model named in the path, /v2/models/{model}/...: every model it serves, and a 404 for any other.
"""

from kyber.api import Api, lambda_handler_for
from kyber.core import load_scorer
from kyber.droids import DROIDS, DroidsApi
from kyber.inference_protocol import InferenceProtocol
from kyber.proxy_event import ProxyEvent
from kyber.responses import JsonResponse

app = Api(DROIDS)
scorer = load_scorer()
droids = DroidsApi(scorer)
protocol = InferenceProtocol(scorer)


@app.post("/astromech", doc=droids.described("/astromech", __doc__))
def classify_with_chosen_model(event: ProxyEvent) -> JsonResponse:
    return droids.classify(event)


protocol.add_server_routes(app)
protocol.add_model_routes(app, "/v2/models/{model}")

lambda_handler = lambda_handler_for(app)
