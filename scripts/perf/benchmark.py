"""Measures the service and prints the figures: cold start, per-request latency, memory, HTTP.

Run from the repository root after `sam build`: `python -m scripts.perf.benchmark [--http]` (`make benchmark`).
The seed-style rows load the native scikit-learn and PyTorch models in-process, as the original
Flask service did, so every ratio compares two things measured in the same run. Every figure that
imports a handler is taken in a child process given the functions' environment (scripts.project):
the cold starts by the probes in scripts/perf/probes, the requests by scripts.perf.in_process.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

from scripts.harness.local_api import LocalApi, lambda_base_image, post_ok, start_local_api
from scripts.perf.timing import median_seconds
from scripts.project import REPO, built_models, process_environment, routes, service_environment

ARTIFACTS = REPO / "layers" / "models" / "artifacts"
PROBES = Path(__file__).resolve().parent / "probes"
SAMPLE = [[0.92, 0.12, 0.31, 0.09]]
# What scripts/perf/probes/cold_start_stages.py times, in the order it prints them.
COLD_START_STAGES = (
    "numpy",
    "ONNX Runtime",
    "Powertools Logger and Metrics",
    "the layer's own modules and orjson",
    "the function's init: models verified, sessions created",
    "the first request",
)


def child_environment() -> dict[str, str]:
    return process_environment(POWERTOOLS_LOG_LEVEL="WARNING")


def probe_output(arguments: list[str]) -> tuple[float, Any]:
    """Run a fresh interpreter: the wall time, and what its last line printed (JSON)."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, *arguments], cwd=REPO, env=child_environment(), capture_output=True, text=True, check=True
    )
    seconds = time.perf_counter() - started
    return seconds, json.loads(result.stdout.strip().splitlines()[-1])


def run_probe(probe: str, argument: str) -> tuple[float, float]:
    seconds, printed = probe_output(["-m", f"scripts.perf.probes.{probe}", argument])
    return seconds, printed["max_rss_mb"]


def cold_starts(repeats: int) -> None:
    print(f"\nCold start in a fresh process: start to first answer (median of {repeats}), peak RSS")
    seed_seconds, seed_rss = min(run_probe("seed_style", str(ARTIFACTS)) for _ in range(repeats))
    for route in routes():
        runs = [run_probe("cold_start", route) for _ in range(repeats)]
        seconds = statistics.median(run[0] for run in runs)
        rss = statistics.median(run[1] for run in runs)
        print(
            f"  /{route:<10} {seconds * 1000:7.0f} ms  {rss:6.0f} MB   ({seed_seconds / seconds:4.1f}x faster,"
            f" {seed_rss / rss:4.1f}x less memory than seed-style)"
        )
    print(f"  seed-style  {seed_seconds * 1000:7.0f} ms  {seed_rss:6.0f} MB   (joblib + torch, native models)")


def cold_start_stages(repeats: int) -> None:
    """Where a cold start's time goes: the interpreter's own start, then each stage the probe times."""
    bare = statistics.median(probe_output(["-c", "print(0)"])[0] for _ in range(repeats))
    runs = [probe_output(["-m", "scripts.perf.probes.cold_start_stages", "astromech"]) for _ in range(repeats)]
    total = statistics.median(run[0] for run in runs)
    print(f"\nWhere /astromech's cold start goes (median of {repeats} fresh processes, {total * 1000:.0f} ms in all)")
    print(f"  {'the interpreter starting and stopping (python -c pass)':<58} {bare * 1000:6.1f} ms")
    for index, stage in enumerate(COLD_START_STAGES):
        print(f"  {stage:<58} {statistics.median(run[1][index] for run in runs) * 1000:6.1f} ms")


def in_process(rows: int, repeats: int) -> None:
    """The request figures, printed by scripts.perf.in_process as it measures them."""
    command = [sys.executable, "-m", "scripts.perf.in_process", str(rows), str(repeats), str(ARTIFACTS)]
    sys.stdout.flush()
    subprocess.run(command, cwd=REPO, env=child_environment(), check=True)


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


def emulator_command(repeats: int) -> list[str]:
    """The emulator-image probe in a container holding the function and its layers where Lambda puts them."""
    build = built_models().parents[1]
    mounts = {
        build / "AstromechFunction": "/var/task",
        build / "KyberLayer" / "python": "/opt/python",
        built_models(): "/opt/models",
        PROBES: "/probes",
    }
    command = ["docker", "run", "--rm", "--entrypoint", "/var/lang/bin/python3"]
    for source, target in mounts.items():
        command += ["--volume", f"{source}:{target}:ro"]
    environment = {
        **service_environment(Path("/opt/models")),
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "PYTHONPATH": "/var/task:/opt/python:/var/runtime",
    }
    for name, value in environment.items():
        command += ["--env", f"{name}={value}"]
    return [*command, lambda_base_image(), "/probes/emulator_init.py", str(repeats)]


def emulator_init_stages(repeats: int) -> None:
    result = subprocess.run(emulator_command(repeats), capture_output=True, text=True, check=False)
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


def first_and_warm(url: str, api: LocalApi | None, requests: int) -> None:
    for route in routes():
        payload = {"model": "sklearn", "crystalData": SAMPLE} if route == "astromech" else {"crystalData": SAMPLE}
        request = partial(post_ok, f"{url}/{route}", json.dumps(payload))
        logged = len(api.log()) if api else 0
        first = median_seconds(request, 1)
        init = f", function Duration {first_duration(api, logged)}" if api else ""
        warm = median_seconds(request, requests)
        print(
            f"  /{route:<10} first request {first * 1000:7.1f} ms{init}, then median {warm * 1000:6.1f} ms"
            f" over {requests} requests"
        )


def over_http(url: str | None, requests: int) -> None:
    if url is not None:
        print(f"\nOver HTTP: {url}")
        first_and_warm(url, None, requests)
        return
    started = time.perf_counter()
    api = start_local_api(REPO, Path(tempfile.mkdtemp(prefix="kyber-benchmark-")) / "start-api.log")
    print(f"\nOver HTTP: sam local start-api ready in {time.perf_counter() - started:.1f} s at {api.url}")
    try:
        first_and_warm(api.url, api, requests)
    finally:
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
    if not (built_models() / "manifest.json").is_file():
        sys.exit(f"{built_models()} is missing: run `make build` first")
    cold_starts(options.cold_starts)
    cold_start_stages(max(5, options.cold_starts))
    in_process(options.rows, options.repeats)
    if options.http or options.url:
        over_http(options.url, options.http_requests)
    if options.http:
        emulator_init_stages(max(5, options.cold_starts))


if __name__ == "__main__":
    main()
