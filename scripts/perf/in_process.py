"""The in-process figures of `make benchmark`: a request's latency beside the seed-style model call, the Open
Inference Protocol's inference beside the native route, where a request's time goes stage by stage, what the
model figures cost, and the slowest bodies within Lambda's request limit.

Run by scripts.perf.benchmark in a child process given the functions' environment (scripts.project), so that
each handler's init reads the built models as a cold start would.
Usage: python -m scripts.perf.in_process ROWS REPEATS ARTIFACTS_DIR
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from functools import partial
from itertools import chain
from pathlib import Path
from types import ModuleType
from typing import Any

import joblib
import numpy as np
import torch

from kyber.droids.request import parse_crystal_batch
from kyber.manifest import CHALLENGER_DIR, MANIFEST_FILE, FileRef, read_manifest
from kyber.monitoring import DataCapture, ModelMonitor
from kyber.registry import get_registry
from kyber.scores_json import prediction_json
from kyber.settings import get_settings
from kyber.validation import collection_paused, parse_json_body, require_object
from model_build.crystal_mlp import CrystalMLP
from scripts.harness.events import FakeLambdaContext, json_event, protocol_event, proxy_event
from scripts.perf.timing import median_seconds
from scripts.project import routes

SAMPLE = [[0.92, 0.12, 0.31, 0.09]]
REQUEST_STAGES = (
    "JSON parsed (orjson)",
    "crystalData checked and converted",
    "the parsed body freed",
    "the model (ONNX Runtime)",
    "the answer written",
)


def handler_of(route: str) -> ModuleType:
    return importlib.import_module(f"functions.{route}.app")


def random_batch(rows: int) -> list[list[float]]:
    return np.random.default_rng(7).uniform(0, 8, size=(rows, 4)).round(3).tolist()


class SeedStyle:
    """The bare native model call with stdlib json, as the original Flask service answered, without its framework."""

    def __init__(self, artifacts: Path) -> None:
        self.sklearn_model = joblib.load(artifacts / "sklearn.model")
        self.network = CrystalMLP()
        self.network.load_state_dict(torch.load(artifacts / "pytorch.model", weights_only=True))
        torch.set_num_threads(1)

    def answer(self, model: str, body: str) -> str:
        data = np.array(json.loads(body)["crystalData"])
        if model == "sklearn":
            scores = self.sklearn_model.predict_proba(data)
        else:
            with torch.no_grad():
                scores = self.network(torch.tensor(data, dtype=torch.float32)).numpy()
        return json.dumps({"scores": scores.tolist()})


def request_latency(rows: int, repeats: int, seed_style: SeedStyle) -> None:
    print(
        f"\nPer request, in-process: the handler, JSON in and out (median; 1 row x{repeats * 10},"
        f" {rows} rows x{repeats});\n  seed-style: the bare native model call with stdlib json, no web framework"
    )
    context, batch = FakeLambdaContext(), random_batch(rows)
    for route in routes():
        handler = handler_of(route)
        model = "pytorch" if route == "pytorch" else "sklearn"
        extra = {"model": model} if route == "astromech" else {}
        figures = []
        for data, count in ((SAMPLE, repeats * 10), (batch, repeats)):
            event = json_event(route, {**extra, "crystalData": data})
            with contextlib.redirect_stdout(io.StringIO()):  # the handler's metrics and logs
                ours = median_seconds(partial(handler.lambda_handler, event, context), count)
            seed = median_seconds(partial(seed_style.answer, model, event["body"]), count)
            figures.append(f"{ours * 1e3:8.3f} ms ({seed / ours:4.1f}x seed-style {seed * 1e3:.3f} ms)")
        print(f"  /{route:<10} 1 row {figures[0]}   {rows} rows {figures[1]}")


def tensor_event(model: str, data: list[list[float]], datatype: str) -> dict[str, Any]:
    """POST /v2/models/<model>/infer with the rows as one flat tensor, as tritonclient sends them."""
    tensor = {"name": "crystal_data", "shape": [len(data), 4], "datatype": datatype, "data": list(chain(*data))}
    return protocol_event(model, "POST", f"/v2/models/{model}/infer", json.dumps({"inputs": [tensor]}))


def protocol_latency(rows: int, repeats: int) -> None:
    print(
        f"\nThe Open Inference Protocol beside the native route, in-process (median; 1 row x{repeats * 10},"
        f" {rows} rows x{repeats}):\n  the same rows, as one flat tensor in the model's datatype, to the same function"
    )
    context, batch = FakeLambdaContext(), random_batch(rows)
    for model, datatype in (("sklearn", "FP64"), ("pytorch", "FP32")):
        handler = handler_of(model)
        figures = []
        for data, count in (([SAMPLE[0]], repeats * 10), (batch, repeats)):
            native = json_event(model, {"crystalData": data})
            tensor = tensor_event(model, data, datatype)
            with contextlib.redirect_stdout(io.StringIO()):
                ours = median_seconds(partial(handler.lambda_handler, native, context), count)
                protocol = median_seconds(partial(handler.lambda_handler, tensor, context), count)
            figures.append(f"{protocol * 1e3:7.3f} ms ({protocol / ours:4.2f}x /{model} {ours * 1e3:.3f} ms)")
        print(f"  /v2/models/{model}/infer  1 row {figures[0]}   {rows} rows {figures[1]}")


def stage_marks(body: str, module: ModuleType) -> Iterator[float]:
    """One /sklearn request's stages run as the droids' route runs them (kyber.droids), yielding the time after each."""
    scorer = module.scorer
    model = scorer.models["sklearn"]
    yield time.perf_counter()
    with collection_paused():
        payload = require_object(parse_json_body(body))
        yield time.perf_counter()
        features = parse_crystal_batch(payload, feature_count=scorer.feature_count, max_rows=scorer.max_rows)
        yield time.perf_counter()
        del payload
        yield time.perf_counter()
    scores = model.score(features)
    yield time.perf_counter()
    prediction_json(model.labels, scores.probabilities)
    yield time.perf_counter()


def stage_medians(data: list[list[float]], count: int, module: ModuleType) -> list[float]:
    """Each stage's median, the rest of the whole request (the model figures, Powertools, routing), and the whole
    request."""
    event = json_event("sklearn", {"crystalData": data})
    timings: list[list[float]] = [[] for _ in REQUEST_STAGES]
    for _ in range(count):
        marks = list(stage_marks(event["body"], module))
        for timing, earlier, later in zip(timings, marks[:-1], marks[1:], strict=True):
            timing.append(later - earlier)
    with contextlib.redirect_stdout(io.StringIO()):
        total = median_seconds(partial(module.lambda_handler, event, FakeLambdaContext()), count)
    stages = [statistics.median(timing) for timing in timings]
    return [*stages, total - sum(stages), total]


def request_stages(rows: int, repeats: int) -> None:
    """Where /sklearn's request time goes, stage by stage (medians), for one row and for a batch."""
    module = handler_of("sklearn")
    one = stage_medians([SAMPLE[0]], repeats * 10, module)
    many = stage_medians(random_batch(rows), repeats, module)
    names = (*REQUEST_STAGES, "the rest: model figures, Powertools, routing", "the whole request")
    print(f"\nWhere /sklearn's request time goes, in-process (medians):{'1 row':>16}{f'{rows} rows':>14}")
    for name, first, second in zip(names, one, many, strict=True):
        print(f"  {name:<56} {first * 1000:8.3f} ms {second * 1000:9.3f} ms")


def set_monitoring(on: bool, saved: tuple[Any, Any] = (ModelMonitor.write, DataCapture.sampled)) -> None:
    """With on False, the request as it was before the model figures and data capture: both steps no-ops."""
    write, sampled = saved if on else ((lambda *_: None), (lambda _: False))
    ModelMonitor.write, DataCapture.sampled = write, sampled  # type: ignore[method-assign]


def timed(action: Callable[[], object], count: int) -> list[float]:
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return timings


def monitoring_cost(rows: int, repeats: int, rounds: int = 10) -> None:
    """/sklearn's request with and without the model figures, in alternating rounds: each round's median with them
    is compared with the next round's without, so that both halves of a pair see the same machine load; each
    round's first request, after the switch, is not timed. The fastest request is the figure least disturbed by
    other work on the machine."""
    handler, context = handler_of("sklearn"), FakeLambdaContext()
    print(f"\nThe model figures' cost on /sklearn, in-process ({rounds} pairs of rounds, with and without them)")
    for data, count in (([SAMPLE[0]], repeats * 10), (random_batch(rows), repeats)):
        action = partial(handler.lambda_handler, json_event("sklearn", {"crystalData": data}), context)
        timings: dict[bool, list[list[float]]] = {True: [], False: []}
        # Written to a file, as Lambda's runtime writes stdout to its log pipe: a StringIO would grow instead.
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            try:
                for _ in range(rounds):
                    for on in (True, False):
                        set_monitoring(on)
                        action()
                        timings[on].append(timed(action, count))
            finally:
                set_monitoring(True)
        medians = {on: [statistics.median(run) for run in runs] for on, runs in timings.items()}
        ratio = statistics.median(after / before for after, before in zip(medians[True], medians[False], strict=True))
        before, after = statistics.median(medians[False]), statistics.median(medians[True])
        fastest = {on: min(min(run) for run in runs) for on, runs in timings.items()}
        print(
            f"  {len(data):>6} rows: median {before * 1e3:7.3f} -> {after * 1e3:7.3f} ms, pairs' median"
            f" {(ratio - 1) * 100:+5.1f} %; fastest {fastest[False] * 1e3:7.3f} -> {fastest[True] * 1e3:7.3f} ms"
            f" ({(fastest[True] / fastest[False] - 1) * 100:+5.1f} %)"
        )


def with_own_challenger(models_dir: Path, out: Path) -> Path:
    """A copy of the built models layer whose models each have a challenger: a copy of their own ONNX file, which
    costs what a challenger of the same family costs."""
    shutil.copytree(models_dir, out)
    (out / CHALLENGER_DIR).mkdir()
    manifest = read_manifest(models_dir)
    challengers = {}
    for name, entry in manifest.models.items():
        onnx, card = f"{CHALLENGER_DIR}/{entry.file}", f"{CHALLENGER_DIR}/{entry.card.file}"
        shutil.copyfile(models_dir / entry.file, out / onnx)
        shutil.copyfile(models_dir / entry.card.file, out / card)
        challengers[name] = dataclasses.replace(entry, file=onnx, card=FileRef(card, entry.card.sha256))
    (out / MANIFEST_FILE).write_text(dataclasses.replace(manifest, challengers=challengers).to_json())
    return out


def shadow_cost(rows: int, repeats: int, rounds: int = 5) -> None:
    """/sklearn's request with its challenger shadowing no request, 10 % and every request: each request has its
    own id (the shadow picks by id), so the figure is the mean over the requests, in alternating rounds."""
    models = with_own_challenger(Path(os.environ["KYBER_MODELS_DIR"]), Path(tempfile.mkdtemp()) / "models")
    os.environ.update(KYBER_MODELS_DIR=str(models), KYBER_SHADOW_PERCENT="100")
    get_settings.cache_clear()
    get_registry.cache_clear()
    with contextlib.redirect_stdout(io.StringIO()):
        handler = importlib.reload(handler_of("sklearn"))
    shadows, context = handler.scorer.shadows, FakeLambdaContext()
    print(
        f"\nThe challenger's cost on /sklearn, in-process (mean per request over {rounds} rounds of each share;"
        " the challenger a copy of the champion's ONNX file)"
    )
    for data, count in (([SAMPLE[0]], repeats * 10), (random_batch(rows), repeats)):
        events = [json_event("sklearn", {"crystalData": data}) for _ in range(count)]
        for number, event in enumerate(events):
            event["requestContext"]["requestId"] = f"benchmark-{number}"
        means: dict[float, list[float]] = {0.0: [], 10.0: [], 100.0: []}
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            for _ in range(rounds):
                for percent, timings in means.items():
                    shadows["sklearn"] = dataclasses.replace(shadows["sklearn"], percent=percent)
                    handler.lambda_handler(events[0], context)
                    timings.append(statistics.mean(timed_each(handler.lambda_handler, events, context)))
        off, *on = (statistics.median(timings) for timings in means.values())
        figures = ", ".join(
            f"{percent:g} % {median * 1e3:7.3f} ms ({(median / off - 1) * 100:+5.1f} %)"
            for percent, median in zip((10, 100), on, strict=True)
        )
        print(f"  {len(data):>6} rows: off {off * 1e3:7.3f} ms, {figures}")


def timed_each(handler: Callable[..., object], events: list[dict[str, Any]], context: FakeLambdaContext) -> list[float]:
    timings = []
    for event in events:
        started = time.perf_counter()
        handler(event, context)
        timings.append(time.perf_counter() - started)
    return timings


def worst_bodies(repeats: int) -> None:
    """The slowest bodies a droid could send within Lambda's 6 MB request limit, answered in-process."""
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
    handler, context = handler_of("astromech"), FakeLambdaContext()
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


def main(arguments: list[str]) -> None:
    rows, repeats, artifacts = int(arguments[0]), int(arguments[1]), Path(arguments[2])
    request_latency(rows, repeats, SeedStyle(artifacts))
    protocol_latency(rows, repeats)
    request_stages(rows, repeats)
    monitoring_cost(rows, repeats)
    worst_bodies(max(3, repeats // 4))
    shadow_cost(rows, repeats)


if __name__ == "__main__":
    main(sys.argv[1:])
