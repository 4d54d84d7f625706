"""A bounded load run against a local API: req/s and latency percentiles per concurrency, rows and route.

Run from the repository root after `sam build`: `python -m scripts.perf.load` (`make load`) starts sam local start-api
itself (or measures `--url`, which must be on loopback), sends a fixed number of requests per level,
each level also bounded in time, then starts the API again `--starts` times to time every route's
first request and count the containers SAM leaves behind when it stops.
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import json
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from scripts.harness.local_api import LocalApi, container_ids, start_local_api
from scripts.project import REPO, routes

REQUEST_TIMEOUT_S = 30
ROUTES = routes()


@dataclass(frozen=True)
class Target:
    host: str
    port: int

    @classmethod
    def loopback(cls, url: str) -> Target:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise SystemExit(f"--url must be http://host:port on loopback, got {url!r}")
        address = ipaddress.ip_address(socket.gethostbyname(parts.hostname))
        if not address.is_loopback:
            raise SystemExit(f"--url must be on loopback: {parts.hostname} is {address}")
        return cls(parts.hostname, parts.port or 80)


def request_body(route: str, rows: int) -> bytes:
    batch = np.random.default_rng(rows).uniform(0.0, 8.0, size=(rows, 4)).round(3).tolist()
    payload = {"model": "pytorch", "crystalData": batch} if route == "astromech" else {"crystalData": batch}
    return json.dumps(payload).encode()


def timed_post(target: Target, route: str, body: bytes, rows: int) -> tuple[float, bool]:
    """Seconds from connecting to the last byte of the answer, and whether it was a 200 with one
    prediction per row."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection(target.host, target.port, timeout=REQUEST_TIMEOUT_S)
    try:
        connection.request("POST", f"/{route}", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = response.read()
        ok = response.status == 200 and len(json.loads(answer)["prediction"]) == rows
    except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError):
        ok = False
    finally:
        connection.close()
    return time.perf_counter() - started, ok


@dataclass
class Samples:
    seconds: dict[str, list[float]] = field(default_factory=lambda: {route: [] for route in ROUTES})
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ROUTES, 0))
    wall_seconds: float = 0.0


def run_level(target: Target, concurrency: int, rows: int, requests: int, max_seconds: float) -> Samples:
    """requests POSTs, round-robin over the routes, from `concurrency` clients at once."""
    bodies = {route: request_body(route, rows) for route in ROUTES}
    samples = Samples()
    lock = threading.Lock()
    issued = iter(range(requests))
    deadline = time.monotonic() + max_seconds

    def next_route() -> str | None:
        with lock:
            index = next(issued, None)
        return None if index is None or time.monotonic() > deadline else ROUTES[index % len(ROUTES)]

    def client() -> None:
        while (route := next_route()) is not None:
            seconds, ok = timed_post(target, route, bodies[route], rows)
            with lock:
                samples.seconds[route].append(seconds)
                samples.errors[route] += not ok

    started = time.perf_counter()
    clients = [threading.Thread(target=client) for _ in range(concurrency)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    samples.wall_seconds = time.perf_counter() - started
    return samples


def rows_of_figures(concurrency: int, rows: int, samples: Samples) -> Iterator[str]:
    everything = [seconds for route in ROUTES for seconds in samples.seconds[route]]
    groups = [(f"/{route}", samples.seconds[route], samples.errors[route]) for route in ROUTES]
    groups.append(("all", everything, sum(samples.errors.values())))
    for name, seconds, errors in groups:
        if not seconds:
            continue
        p50, p95, p99 = np.percentile(np.asarray(seconds) * 1000, [50, 95, 99], method="inverted_cdf")
        rate = len(seconds) / samples.wall_seconds
        yield (
            f"| {concurrency} | {rows:,} | {name} | {len(seconds)} | {errors} | {rate:.0f} | {p50:.0f} ms"
            f" | {p95:.0f} ms | {p99:.0f} ms | {max(seconds) * 1000:.0f} ms |"
        )


def load(target: Target, concurrencies: list[int], row_counts: list[int], requests: int, max_seconds: float) -> None:
    print(f"\n{requests} requests per level (at most {max_seconds:.0f} s), round-robin over the routes")
    print("| concurrency | rows | route | requests | errors | req/s | p50 | p95 | p99 | max |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for rows in row_counts:
        for concurrency in concurrencies:
            samples = run_level(target, concurrency, rows, requests, max_seconds)
            for line in rows_of_figures(concurrency, rows, samples):
                print(line, flush=True)


def first_requests(starts: int) -> None:
    """Start the API `starts` times: each route's first request, and containers SAM leaves behind."""
    print(f"\n{starts} consecutive starts of sam local start-api: each route's first request, 1 row")
    worst = 0.0
    within = 0
    left_in_all = 0
    for start in range(1, starts + 1):
        api = started_api()
        target = Target("127.0.0.1", api.port)
        try:
            firsts = {route: timed_post(target, route, request_body(route, 1), 1) for route in ROUTES}
        finally:
            left = api.stop()
        left_in_all += len(left)
        slowest = max(seconds for seconds, _ in firsts.values())
        worst = max(worst, slowest)
        within += slowest <= 0.5 and all(ok for _, ok in firsts.values())
        figures = ", ".join(f"/{route} {seconds * 1000:.0f} ms" for route, (seconds, _) in firsts.items())
        print(f"  start {start:2}: {figures}; containers left after stop: {len(left)}", flush=True)
    print(
        f"  starts whose first requests all answered 200 within 500 ms: {within}/{starts};"
        f" slowest first request {worst * 1000:.0f} ms; containers left in all: {left_in_all}"
    )


def started_api() -> LocalApi:
    log_dir = Path(tempfile.mkdtemp(prefix="kyber-load-"))
    return start_local_api(REPO, log_dir / "start-api.log")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running API on loopback; by default sam local start-api is started")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 1000], help="rows per request")
    parser.add_argument("--requests", type=int, default=900, help="requests per concurrency and rows level")
    parser.add_argument("--max-seconds", type=float, default=120, help="time bound of each level")
    parser.add_argument("--starts", type=int, default=10, help="fresh starts for the first-request figures")
    options = parser.parse_args()
    if options.url:
        load(Target.loopback(options.url), options.concurrency, options.rows, options.requests, options.max_seconds)
    else:
        before = container_ids()
        started = time.perf_counter()
        api = started_api()
        print(f"sam local start-api ready in {time.perf_counter() - started:.1f} s at {api.url}")
        try:
            load(
                Target("127.0.0.1", api.port), options.concurrency, options.rows, options.requests, options.max_seconds
            )
        finally:
            api.stop()
        first_requests(options.starts)
        if container_ids() - before:
            raise SystemExit(f"containers left behind: {sorted(container_ids() - before)}")


if __name__ == "__main__":
    main()
