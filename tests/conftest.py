"""Shared fixtures: Powertools and AWS environment, a fake Lambda context, built models, handlers."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

from scripts.harness.events import FakeLambdaContext
from tests.support.fakes import BUCKET, PREFIX
from tests.support.service import DEFAULT_ARTIFACTS, DEPLOYED_SIZES, TEST_ENVIRONMENT, configure_service

if TYPE_CHECKING:
    from kyber.manifest import Manifest
    from model_build.layer import LayerBuild


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if DEPLOYED_SIZES:
        terminalreporter.section("deployed size: function code + all its layers, unzipped (limit 250 MiB)")
        for function, line in DEPLOYED_SIZES.items():
            terminalreporter.write_line(f"{function}: {line}")


def pytest_configure(config: pytest.Config) -> None:
    """Set before any test module imports the layer, as Lambda sets it before the handler's init."""
    os.environ.update(TEST_ENVIRONMENT)


@pytest.fixture(scope="session")
def default_layer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LayerBuild]:
    """The committed default models, exported and checked exactly as `sam build` does: the folder, and what the
    build returned (its manifest, and what it measured of each model). Built once per test session."""
    from model_build.layer import build

    out = tmp_path_factory.mktemp("models-layer") / "models"
    return out, build(DEFAULT_ARTIFACTS, out)


@pytest.fixture(scope="session")
def default_build(default_layer: tuple[Path, LayerBuild]) -> tuple[Path, Manifest]:
    """The default models layer's folder and manifest."""
    return default_layer[0], default_layer[1].manifest


@pytest.fixture(scope="session")
def default_layer_build(default_layer: tuple[Path, LayerBuild]) -> LayerBuild:
    return default_layer[1]


@pytest.fixture(scope="session")
def built_models(default_build: tuple[Path, Manifest]) -> Path:
    return default_build[0]


@pytest.fixture(scope="session")
def challenger_models(built_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default models layer with a challenger for the scikit-learn model: a nearest-neighbours classifier
    trained on the same rows, built through the same gates (it disagrees with the champion on some rows)."""
    from sklearn.neighbors import KNeighborsClassifier

    from model_build.layer import build
    from tests.support.challengers import with_challengers
    from tests.support.sklearn_families import delivery, trained

    folder = tmp_path_factory.mktemp("challenger")
    candidate = folder / "candidate"
    build(delivery(folder, trained(KNeighborsClassifier(n_neighbors=7))), candidate)
    return with_challengers(built_models, candidate, folder / "models", ["sklearn"])


@pytest.fixture(autouse=True)
def fresh_caches() -> Iterator[None]:
    from kyber.model_source import s3_client
    from kyber.observability import metrics
    from kyber.registry import get_registry
    from kyber.settings import get_settings

    yield
    # A test that calls a router without a handler's flush leaves its metrics for the next test's flush.
    metrics.clear_metrics()
    get_settings.cache_clear()
    get_registry.cache_clear()
    s3_client.cache_clear()


@pytest.fixture
def s3() -> Iterator[Any]:
    """An S3 client on moto's in-memory AWS; the service's own client is created inside it too."""
    import boto3
    from moto import mock_aws

    from kyber.model_source import s3_client

    with mock_aws():
        s3_client.cache_clear()
        yield boto3.client("s3", region_name=TEST_ENVIRONMENT["AWS_DEFAULT_REGION"])


@pytest.fixture
def model_bucket(s3: Any, models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A bucket for a built models folder, and the service pointed at it instead of the layer."""
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    configure_service(
        monkeypatch,
        KYBER_MODEL_SOURCE=f"s3://{BUCKET}/{PREFIX}",
        KYBER_DOWNLOAD_DIR=str(tmp_path / "downloaded"),
        KYBER_MODELS_DIR=str(tmp_path / "no-models-layer"),
    )
    return s3


@pytest.fixture
def models_dir(built_models: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    configure_service(monkeypatch, KYBER_MODELS_DIR=str(built_models))
    return built_models


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture
def handler_module(models_dir: Path) -> Callable[[str], ModuleType]:
    """A handler module as a cold start leaves it: imported (or re-imported) with fresh caches."""
    import importlib

    def cold_start(route: str) -> ModuleType:
        # Powertools attaches its JSON log handler once per process, to the stdout of that moment;
        # point it at this test's stdout so that capfd sees the init's logs too.
        for log_handler in logging.getLogger(TEST_ENVIRONMENT["POWERTOOLS_SERVICE_NAME"]).handlers:
            log_handler.stream = sys.stdout  # type: ignore[attr-defined]
        module = f"functions.{route}.app"
        if module in sys.modules:
            return importlib.reload(sys.modules[module])
        return importlib.import_module(module)

    return cold_start


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str]
    raw_body: str


@pytest.fixture
def invoke(
    handler_module: Callable[[str], ModuleType], lambda_context: FakeLambdaContext
) -> Callable[[str, dict[str, Any]], Answer]:
    """Call the route's lambda_handler in-process with an API Gateway event."""
    loaded: dict[str, ModuleType] = {}

    def call(route: str, event: dict[str, Any]) -> Answer:
        if route not in loaded:
            loaded[route] = handler_module(route)
        response = loaded[route].lambda_handler(event, lambda_context)
        # Every answer is JSON text, which API Gateway passes on as it is only when this is false.
        assert response["isBase64Encoded"] is False
        return Answer(
            status=response["statusCode"],
            body=json.loads(response["body"]),
            headers={name: values[-1] for name, values in response["multiValueHeaders"].items()},
            raw_body=response["body"],
        )

    return call
