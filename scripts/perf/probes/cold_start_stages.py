"""A cold start, stage by stage, each timed from the end of the one before (modules a stage shares with a later
one count where they are first imported); prints each stage's seconds as a JSON list, in the order that
scripts.perf.benchmark names them. Usage: python -m scripts.perf.probes.cold_start_stages ROUTE"""

import time

started = time.perf_counter()

import importlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402

import numpy  # noqa: E402, F401

numpy_done = time.perf_counter()
import onnxruntime  # noqa: E402, F401

onnxruntime_done = time.perf_counter()
import kyber.observability  # noqa: E402

powertools_done = time.perf_counter()
import kyber.api  # noqa: E402
import kyber.droids  # noqa: E402, F401

layer_done = time.perf_counter()
module = importlib.import_module(f"functions.{sys.argv[1]}.app")
init_done = time.perf_counter()

from scripts.harness.events import FakeLambdaContext, single_row_event  # noqa: E402

event, context = single_row_event(sys.argv[1]), FakeLambdaContext()
asked = time.perf_counter()
if module.lambda_handler(event, context)["statusCode"] != 200:
    sys.exit(f"/{sys.argv[1]} did not answer 200")
answered = time.perf_counter()

from itertools import pairwise  # noqa: E402

marks = [started, numpy_done, onnxruntime_done, powertools_done, layer_done, init_done]
print(json.dumps([later - earlier for earlier, later in pairwise(marks)] + [answered - asked]))
