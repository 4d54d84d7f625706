"""A cold start in this fresh interpreter: import one function's handler (its init loads the models), answer one
row, and print the peak RSS as JSON. Usage: python -m scripts.perf.probes.cold_start ROUTE"""

import importlib
import json
import resource
import sys

from scripts.harness.events import FakeLambdaContext, single_row_event

route = sys.argv[1]
module = importlib.import_module(f"functions.{route}.app")
if module.lambda_handler(single_row_event(route), FakeLambdaContext())["statusCode"] != 200:
    sys.exit(f"/{route} did not answer 200")
print(json.dumps({"max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
