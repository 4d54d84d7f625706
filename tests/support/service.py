"""The service as the tests set it up: its environment, the default and reference models, how close its scores
must be to the native models', and a new execution environment's settings."""

from __future__ import annotations

import pytest

from kyber.settings import DEFAULT_MAX_ROWS
from scripts.project import REPO, metrics_namespace, service_name

DEFAULT_ARTIFACTS = REPO / "layers" / "models" / "artifacts"
REFERENCE_MODELS = REPO.parent / "shared" / "reference-models"
DEFAULT_LABELS = ["blue", "green", "yellow"]
# The most rows a request may carry, as the layer sets it when the environment does not (the unit tests) and as
# template.yaml's MaxRows deploys it (sam local, the integration tests): tests/unit/kyber/test_settings.py checks
# both agree.
ROW_LIMIT = DEFAULT_MAX_ROWS
# How close the service's scores must be to the native model's: the scikit-learn model is exported
# in double precision, the PyTorch one computes in single precision.
NATIVE_TOLERANCE = {"sklearn": 1e-12, "pytorch": 1e-6}

TEST_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-1",
    "POWERTOOLS_SERVICE_NAME": service_name(),
    "POWERTOOLS_METRICS_NAMESPACE": metrics_namespace(),
    "POWERTOOLS_LOG_LEVEL": "INFO",
}


# Filled by tests/unit/project/test_deployed_size.py, printed at the end of the run.
DEPLOYED_SIZES: dict[str, str] = {}


def configure_service(monkeypatch: pytest.MonkeyPatch, **variables: str) -> None:
    """Set the service's environment variables and forget the settings and models read before,
    as a new execution environment would."""
    from kyber.registry import get_registry
    from kyber.settings import get_settings

    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    get_registry.cache_clear()
