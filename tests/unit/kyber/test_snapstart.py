"""SnapStart hooks: what each function registers during init, and what calling them does.

Lambda's Python runtime calls the hooks it finds in snapshot_restore_py's registries; these tests
call them the same way, from the registries a function's init filled.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
import snapshot_restore_py

from kyber import snapstart
from kyber.model_source import s3_client
from kyber.registry import CrystalModel
from scripts.harness.events import load_event
from tests.support.fakes import SteppingClock, upload

MODELS_OF = {"sklearn": ["sklearn"], "pytorch": ["pytorch"], "astromech": ["sklearn", "pytorch"]}


@pytest.fixture(autouse=True)
def empty_hook_registries() -> Iterator[None]:
    """Each test sees only the hooks of the inits it runs, as one execution environment would."""
    for registry in (snapshot_restore_py.get_before_snapshot(), snapshot_restore_py.get_after_restore()):
        registry.clear()
    yield
    for registry in (snapshot_restore_py.get_before_snapshot(), snapshot_restore_py.get_after_restore()):
        registry.clear()


def run_hooks(registry: list[Any]) -> None:
    for hook, args, kwargs in registry:
        hook(*args, **kwargs)


@pytest.fixture
def scored(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[int, ...]]]:
    """Every model.score call from now on: the model's name and the batch's shape."""
    calls: list[tuple[str, tuple[int, ...]]] = []
    real_score = CrystalModel.score

    def recording_score(model: CrystalModel, batch: Any) -> Any:
        calls.append((model.name, batch.shape))
        return real_score(model, batch)

    monkeypatch.setattr(CrystalModel, "score", recording_score)
    return calls


@pytest.mark.parametrize("route", sorted(MODELS_OF))
def test_init_registers_one_hook_each_way_and_the_snapshot_hook_primes_every_served_model(
    handler_module, scored, capfd, route
):
    # Given a function's init
    handler_module(route)
    before, after = snapshot_restore_py.get_before_snapshot(), snapshot_restore_py.get_after_restore()
    assert (len(before), len(after)) == (1, 1)
    assert scored == []
    # When Lambda prepares the snapshot
    run_hooks(before)
    # Then each model it serves has scored one row, and the log says so
    assert scored == [(name, (1, 4)) for name in MODELS_OF[route]]
    (line,) = (json.loads(line) for line in capfd.readouterr().out.splitlines() if "models primed" in line)
    assert (line["message"], line["models"]) == ("models primed for the snapshot", MODELS_OF[route])


@pytest.mark.parametrize("route", sorted(MODELS_OF))
def test_a_restored_environment_answers_as_a_fresh_one(handler_module, lambda_context, route):
    event = load_event("astromech_pytorch_batch.json" if route == "astromech" else f"{route}_batch.json")
    fresh = handler_module(route).lambda_handler(event, lambda_context)
    snapshot_restore_py.get_before_snapshot().clear()
    snapshot_restore_py.get_after_restore().clear()
    # Given an init whose snapshot hooks ran, and whose restore hooks then ran
    module = handler_module(route)
    run_hooks(snapshot_restore_py.get_before_snapshot())
    run_hooks(snapshot_restore_py.get_after_restore())
    # When it answers
    restored = module.lambda_handler(event, lambda_context)
    # Then the answer is the one an environment without a snapshot gives
    assert restored["statusCode"] == fresh["statusCode"] == 200
    assert restored["body"] == fresh["body"]


def test_the_priming_line_says_how_long_it_took_in_milliseconds(handler_module, capfd, monkeypatch):
    handler_module("astromech")
    # Given a clock that moves 12.3456 ms while the models are primed
    monkeypatch.setattr(snapstart.time, "perf_counter", SteppingClock(0.0, 0.0123456))
    # When Lambda prepares the snapshot
    run_hooks(snapshot_restore_py.get_before_snapshot())
    # Then the line gives the time in milliseconds, to two decimals
    (line,) = (json.loads(line) for line in capfd.readouterr().out.splitlines() if "models primed" in line)
    assert line["duration_ms"] == 12.35


def test_environments_restored_from_one_snapshot_draw_different_random_numbers(handler_module):
    handler_module("sklearn")
    (after,) = snapshot_restore_py.get_after_restore()
    # Given the random generator's state as the snapshot holds it
    snapshot_state = random.getstate()
    # When two environments are restored from it
    draws = []
    for _ in range(2):
        random.setstate(snapshot_state)
        run_hooks([after])
        draws.append([random.random() for _ in range(4)])
    random.setstate(snapshot_state)
    without_hook = [random.random() for _ in range(4)]
    # Then they draw different numbers, neither the snapshot's sequence
    assert draws[0] != draws[1]
    assert without_hook not in draws


def test_environments_restored_from_one_snapshot_capture_different_requests(handler_module, monkeypatch):
    from tests.support.service import configure_service

    # Given functions that capture half the requests, and the generator's state as the snapshot holds it
    configure_service(monkeypatch, KYBER_DATA_CAPTURE_PERCENT="50")
    capture = handler_module("sklearn").scorer.capture
    (after,) = snapshot_restore_py.get_after_restore()
    snapshot_state = random.getstate()
    # When two environments restored from it each decide on the same 64 requests
    choices = []
    for _ in range(2):
        random.setstate(snapshot_state)
        run_hooks([after])
        choices.append([capture.sampled() for _ in range(64)])
    # Then they pick different requests, about half each
    assert choices[0] != choices[1]
    assert all(8 < sum(picked) < 56 for picked in choices)


def test_the_snapshot_hook_closes_the_s3_clients_connections(model_bucket, built_models, handler_module, monkeypatch):
    # Given a function whose init fetched its models from S3
    upload(model_bucket, built_models)
    handler_module("pytorch")
    client = s3_client()
    closed = []
    monkeypatch.setattr(client, "close", lambda: closed.append(True))
    # When Lambda prepares the snapshot
    run_hooks(snapshot_restore_py.get_before_snapshot())
    # Then the client's connections are closed, and a later use gets a new client
    assert closed == [True]
    assert s3_client.cache_info().currsize == 0
    assert s3_client() is not client


def test_the_snapshot_hook_creates_no_s3_client_when_the_models_come_from_the_layer(handler_module):
    handler_module("astromech")
    run_hooks(snapshot_restore_py.get_before_snapshot())
    assert s3_client.cache_info().currsize == 0
