"""Measures the service and prints the figures: cold start, per-request latency, memory, HTTP.

Run from the repository root after `sam build`: `python -m scripts.benchmark [--http]`.
The seed-style rows load the native scikit-learn and PyTorch models in-process, as the original
Flask service did, so every ratio compares two things measured in the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from scripts.lambda_events import ENDPOINTS
from scripts.local_api import LAMBDA_BASE_IMAGE, LocalApi

REPO = Path(__file__).resolve().parent.parent
BUILT_MODELS = REPO / ".aws-sam" / "build" / "ModelsLayer" / "models"
ARTIFACTS = REPO / "layers" / "models" / "artifacts"
SAMPLE = [[0.92, 0.12, 0.31, 0.09]]

ENVIRONMENT = {
    "PYTHONPATH": os.pathsep.join(str(REPO / part) for part in (".", "layers/kyber", "layers/models")),
    "KYBER_MODELS_DIR": str(BUILT_MODELS),
    "POWERTOOLS_SERVICE_NAME": "kyber-classifier",
    "POWERTOOLS_METRICS_NAMESPACE": "KyberClassifier",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "AWS_DEFAULT_REGION": "eu-west-1",
}

# Each probe runs in a fresh interpreter, does what a cold start does, answers one row, and
# prints its peak RSS; the wall time around it includes the interpreter's own start.
SERVICE_PROBE = """
import json, resource, sys
from scripts.lambda_events import FakeLambdaContext, load_event
module = __import__(f"functions.{sys.argv[1]}.app", fromlist=["lambda_handler"])
name = "astromech_sklearn_single.json" if sys.argv[1] == "astromech" else f"{sys.argv[1]}_single.json"
assert module.lambda_handler(load_event(name), FakeLambdaContext())["statusCode"] == 200
print(json.dumps({"max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

# The same cold start, stage by stage, each timed from the end of the one before (the modules a stage
# shares with a later one are counted where they are first imported).
STAGES_PROBE = """
import json, sys, time
started = time.perf_counter()
import numpy
numpy_done = time.perf_counter()
import onnxruntime
onnxruntime_done = time.perf_counter()
import kyber.observability
powertools_done = time.perf_counter()
import kyber.api, kyber.service
layer_done = time.perf_counter()
module = __import__(f"functions.{sys.argv[1]}.app", fromlist=["lambda_handler"])
init_done = time.perf_counter()
from scripts.lambda_events import FakeLambdaContext, load_event
name = "astromech_sklearn_single.json" if sys.argv[1] == "astromech" else f"{sys.argv[1]}_single.json"
event, context = load_event(name), FakeLambdaContext()
asked = time.perf_counter()
assert module.lambda_handler(event, context)["statusCode"] == 200
answered = time.perf_counter()
marks = [started, numpy_done, onnxruntime_done, powertools_done, layer_done, init_done]
print(json.dumps([later - earlier for earlier, later in zip(marks, marks[1:])] + [answered - asked]))
"""
STAGES = (
    "numpy",
    "ONNX Runtime",
    "Powertools Logger and Metrics",
    "the layer's own modules and orjson",
    "the function's init: models verified, sessions created",
    "the first request",
)

SEED_PROBE = """
import json, resource, sys
import joblib, numpy, torch
from crystal_mlp import CrystalMLP
sklearn_model = joblib.load(sys.argv[1] + "/sklearn.model")
network = CrystalMLP()
network.load_state_dict(torch.load(sys.argv[1] + "/pytorch.model", weights_only=True))
rows = numpy.array([[0.92, 0.12, 0.31, 0.09]])
sklearn_model.predict_proba(rows)
with torch.no_grad():
    network(torch.tensor(rows, dtype=torch.float32))
print(json.dumps({"max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def probe_output(code: str, argument: str) -> tuple[float, Any]:
    """Run code in a fresh interpreter: the wall time, and what its last line printed (JSON)."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", code, argument],
        cwd=REPO,
        env={**os.environ, **ENVIRONMENT},
        capture_output=True,
        text=True,
        check=True,
    )
    seconds = time.perf_counter() - started
    return seconds, json.loads(result.stdout.strip().splitlines()[-1])


def run_probe(code: str, argument: str) -> tuple[float, float]:
    seconds, printed = probe_output(code, argument)
    return seconds, printed["max_rss_mb"]


def cold_start_stages(repeats: int) -> None:
    """Where a cold start's time goes: the interpreter's own start, then each stage of STAGES_PROBE."""
    bare = statistics.median(probe_output("print(0)", "")[0] for _ in range(repeats))
    runs = [probe_output(STAGES_PROBE, "astromech") for _ in range(repeats)]
    total = statistics.median(run[0] for run in runs)
    print(f"\nWhere /astromech's cold start goes (median of {repeats} fresh processes, {total * 1000:.0f} ms in all)")
    print(f"  {'the interpreter starting and stopping (python -c pass)':<58} {bare * 1000:6.1f} ms")
    for index, stage in enumerate(STAGES):
        print(f"  {stage:<58} {statistics.median(run[1][index] for run in runs) * 1000:6.1f} ms")


def median_seconds(action: Callable[[], object], repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def cold_starts(repeats: int) -> None:
    print(f"\nCold start in a fresh process: start to first answer (median of {repeats}), peak RSS")
    seed_seconds, seed_rss = min(run_probe(SEED_PROBE, str(ARTIFACTS)) for _ in range(repeats))
    for endpoint in ENDPOINTS:
        runs = [run_probe(SERVICE_PROBE, endpoint) for _ in range(repeats)]
        seconds = statistics.median(run[0] for run in runs)
        rss = statistics.median(run[1] for run in runs)
        print(
            f"  /{endpoint:<10} {seconds * 1000:7.0f} ms  {rss:6.0f} MB   ({seed_seconds / seconds:4.1f}x faster,"
            f" {seed_rss / rss:4.1f}x less memory than seed-style)"
        )
    print(f"  seed-style  {seed_seconds * 1000:7.0f} ms  {seed_rss:6.0f} MB   (joblib + torch, native models)")


def request_latency(rows: int, repeats: int) -> None:
    os.environ.update(ENVIRONMENT)
    sys.path[:0] = ENVIRONMENT["PYTHONPATH"].split(os.pathsep)
    import joblib
    import numpy as np
    import torch

    from crystal_mlp import CrystalMLP
    from scripts.lambda_events import FakeLambdaContext, json_event

    context = FakeLambdaContext()
    batch = np.random.default_rng(7).uniform(0, 8, size=(rows, 4)).round(3).tolist()
    sklearn_model = joblib.load(ARTIFACTS / "sklearn.model")
    network = CrystalMLP()
    network.load_state_dict(torch.load(ARTIFACTS / "pytorch.model", weights_only=True))
    torch.set_num_threads(1)

    def seed_style(model: str, body: str) -> str:
        data = np.array(json.loads(body)["crystalData"])
        if model == "sklearn":
            scores = sklearn_model.predict_proba(data)
        else:
            with torch.no_grad():
                scores = network(torch.tensor(data, dtype=torch.float32)).numpy()
        return json.dumps({"scores": scores.tolist()})

    print(
        f"\nPer request, in-process: the handler, JSON in and out (median; 1 row x{repeats * 10},"
        f" {rows} rows x{repeats});\n  seed-style: the bare native model call with stdlib json, no web framework"
    )
    for endpoint in ENDPOINTS:
        handler = __import__(f"functions.{endpoint}.app", fromlist=["lambda_handler"])
        model = "pytorch" if endpoint == "pytorch" else "sklearn"
        extra = {"model": model} if endpoint == "astromech" else {}
        figures = []
        for data, count in ((SAMPLE, repeats * 10), (batch, repeats)):
            event = json_event(endpoint, {**extra, "crystalData": data})
            with contextlib.redirect_stdout(io.StringIO()):  # the handler's metrics and logs
                ours = median_seconds(partial(handler.lambda_handler, event, context), count)
            seed = median_seconds(partial(seed_style, model, event["body"]), count)
            figures.append(f"{ours * 1e3:8.3f} ms ({seed / ours:4.1f}x seed-style {seed * 1e3:.3f} ms)")
        print(f"  /{endpoint:<10} 1 row {figures[0]}   {rows} rows {figures[1]}")


def request_stages(rows: int, repeats: int) -> None:
    """Where /sklearn's request time goes, stage by stage as Endpoint.classify runs them (medians)."""
    import numpy as np

    from kyber.responses import prediction_json
    from kyber.validation import collection_paused, parse_crystal_batch, parse_json_body, require_object
    from scripts.lambda_events import FakeLambdaContext, json_event

    module = __import__("functions.sklearn.app", fromlist=["lambda_handler"])
    classifier, model = module.classifier, module.classifier.models["sklearn"]
    batch = np.random.default_rng(7).uniform(0, 8, size=(rows, 4)).round(3).tolist()
    names = (
        "JSON parsed (orjson)",
        "crystalData checked and converted",
        "the parsed body freed",
        "the model (ONNX Runtime)",
        "the answer written",
        "the rest: Powertools' log context and metrics, routing",
    )
    columns = []
    for data, count in (([SAMPLE[0]], repeats * 10), (batch, repeats)):
        event = json_event("sklearn", {"crystalData": data})
        timings: list[list[float]] = [[] for _ in names[:-1]]
        for _ in range(count):
            marks = [time.perf_counter()]
            with collection_paused():  # as Endpoint.classify does
                payload = require_object(parse_json_body(event["body"]))
                marks.append(time.perf_counter())
                features = parse_crystal_batch(payload, feature_count=4, max_rows=classifier.max_rows)
                marks.append(time.perf_counter())
                del payload
                marks.append(time.perf_counter())
            scores = model.score(features)
            marks.append(time.perf_counter())
            prediction_json(model.labels, scores.probabilities)
            marks.append(time.perf_counter())
            for timing, earlier, later in zip(timings, marks[:-1], marks[1:], strict=True):
                timing.append(later - earlier)
        with contextlib.redirect_stdout(io.StringIO()):
            total = median_seconds(partial(module.lambda_handler, event, FakeLambdaContext()), count)
        stages = [statistics.median(timing) for timing in timings]
        columns.append([*stages, total - sum(stages), total])
    print(f"\nWhere /sklearn's request time goes, in-process (medians):{'1 row':>16}{f'{rows} rows':>14}")
    for name, one, many in zip((*names, "the whole request"), *columns, strict=True):
        print(f"  {name:<56} {one * 1000:8.3f} ms {many * 1000:9.3f} ms")


def first_duration(api: LocalApi, logged: int) -> str:
    """The Duration of the first REPORT line the function wrote after the log's first `logged` characters:
    for a function's first invocation, its init (the models loaded) and the request."""
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        found = re.search(r"^REPORT RequestId: .*?(?<!Init )Duration: ([0-9.]+) ms", api.log()[logged:], re.MULTILINE)
        if found:
            return f"{float(found[1]):.0f} ms"
        time.sleep(0.05)
    return "not reported"


def worst_bodies(repeats: int) -> None:
    """The slowest bodies a droid could send within Lambda's 6 MB request limit, answered in-process."""
    from scripts.lambda_events import FakeLambdaContext, proxy_event

    size = 5_900_000
    row = "[0.12345678901234567, 1.2345678901234567, 12.345678901234567, 0.00012345678901234]"
    bodies = {
        "5.9 MB of [NaN] rows": "[" + ",".join(["[NaN]"] * (size // 6)) + "]",
        "5.9 MB of 1e400 values": "[" + ",".join(["[1e400, 1e400, 1e400, 1e400]"] * (size // 29)) + "]",
        "5.9 MB of valid rows": "[" + ",".join([row] * (size // len(row))) + "]",
        "1 MB of [NaN] rows, the most read twice": "[" + ",".join(["[NaN]"] * ((1 << 20) // 6 - 10)) + "]",
        "10,000 rows of 17-digit values, one NaN": "[" + ",".join([row] * 9_999 + ["[NaN, 1, 2, 3]"]) + "]",
        "1 MB of nested brackets": "[" * (1 << 20),
    }
    handler = __import__("functions.astromech.app", fromlist=["lambda_handler"])
    context = FakeLambdaContext()
    print(f"\nWorst bodies, in-process on /astromech (median of {repeats}): status and function time")
    worst = 0.0
    for name, crystal_data in bodies.items():
        event = proxy_event("astromech", '{"model": "pytorch", "crystalData": ' + crystal_data + "}")
        with contextlib.redirect_stdout(io.StringIO()):
            status = handler.lambda_handler(event, context)["statusCode"]
            seconds = median_seconds(partial(handler.lambda_handler, event, context), repeats)
        worst = max(worst, seconds)
        print(f"  {name:<42} {status}  {seconds * 1000:7.1f} ms")
    print(f"  worst: {worst * 1000:.1f} ms")


# Run in the emulator's image, with the function and its layers where Lambda puts them: the interpreter,
# Lambda's runtime client and the handler's import and init, each on top of the one before.
EMULATOR_PROBE = """
import json, statistics, subprocess, sys, time
def wall(code):
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - started
steps = ["pass", "import awslambdaric.bootstrap", "import awslambdaric.bootstrap, app"]
print(json.dumps([statistics.median(wall(step) for _ in range(int(sys.argv[1]))) for step in steps]))
"""


def emulator_init_stages(repeats: int) -> None:
    build = REPO / ".aws-sam" / "build"
    mounts = {"AstromechFunction": "/var/task", "KyberLayer/python": "/opt/python", "ModelsLayer/models": "/opt/models"}
    command = ["docker", "run", "--rm", "--entrypoint", "/var/lang/bin/python3"]
    for source, target in mounts.items():
        command += ["--volume", f"{build / source}:{target}:ro"]
    environment = {**ENVIRONMENT, "KYBER_MODELS_DIR": "/opt/models", "PYTHONPATH": "/var/task:/opt/python:/var/runtime"}
    for name, value in environment.items():
        command += ["--env", f"{name}={value}"]
    command += [LAMBDA_BASE_IMAGE, "-c", EMULATOR_PROBE, str(repeats)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        print(f"\nIn the emulator's image: not measured ({result.stderr.strip().splitlines()[-1:]})")
        return
    bare, runtime, handler = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"\nIn the emulator's image, python3.13, /astromech (median of {repeats} fresh processes):")
    stages = {
        "the interpreter starting and stopping": bare,
        "Lambda's runtime client imported": runtime - bare,
        "the handler's imports and init (models verified, sessions)": handler - runtime,
    }
    for name, seconds in stages.items():
        print(f"  {name:<58} {seconds * 1000:6.1f} ms")


def over_http(url: str | None, requests: int) -> None:
    from scripts.local_api import post_ok, start_local_api

    api = None
    if url is None:
        started = time.perf_counter()
        log_dir = Path(tempfile.mkdtemp(prefix="kyber-benchmark-"))
        api = start_local_api(REPO, log_dir / "start-api.log")
        print(f"\nOver HTTP: sam local start-api ready in {time.perf_counter() - started:.1f} s at {api.url}")
        url = api.url
    else:
        print(f"\nOver HTTP: {url}")
    try:
        for endpoint in ENDPOINTS:
            body = json.dumps(
                {"model": "sklearn", "crystalData": SAMPLE} if endpoint == "astromech" else {"crystalData": SAMPLE}
            )
            request = partial(post_ok, f"{url}/{endpoint}", body)
            logged = len(api.log()) if api else 0
            first = median_seconds(request, 1)
            init = f", function Duration {first_duration(api, logged)}" if api else ""
            warm = median_seconds(request, requests)
            print(
                f"  /{endpoint:<10} first request {first * 1000:7.1f} ms{init}, then median {warm * 1000:6.1f} ms"
                f" over {requests} requests"
            )
    finally:
        if api is not None:
            api.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="rows in the batch requests")
    parser.add_argument("--repeats", type=int, default=20, help="repetitions per in-process figure")
    parser.add_argument("--cold-starts", type=int, default=3, help="fresh processes per cold-start figure")
    parser.add_argument("--http", action="store_true", help="also measure through sam local start-api")
    parser.add_argument("--url", help="measure this running API instead of starting sam local")
    parser.add_argument("--http-requests", type=int, default=50)
    options = parser.parse_args()
    if not (BUILT_MODELS / "manifest.json").is_file():
        sys.exit(f"{BUILT_MODELS} is missing: run `make build` first")
    cold_starts(options.cold_starts)
    cold_start_stages(max(5, options.cold_starts))
    request_latency(options.rows, options.repeats)
    request_stages(options.rows, options.repeats)
    worst_bodies(max(3, options.repeats // 4))
    if options.http or options.url:
        over_http(options.url, options.http_requests)
    if options.http:
        emulator_init_stages(max(5, options.cold_starts))


if __name__ == "__main__":
    main()
