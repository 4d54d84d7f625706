"""Service settings, read once from the environment into a typed object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# The largest answer must stay under Lambda's 6 MB synchronous response limit, with its body JSON-escaped
# once more inside API Gateway's proxy response (tests/unit/kyber/droids/test_response.py checks the bound).
DEFAULT_MAX_ROWS = 10_000
DEFAULT_MODELS_DIR = "/opt/models"
DEFAULT_DOWNLOAD_DIR = "/tmp/kyber-models"
DEFAULT_LOW_CONFIDENCE_THRESHOLD = 0.6
DEFAULT_DATA_CAPTURE_PERCENT = 0.0
DEFAULT_SHADOW_PERCENT = 0.0
# A shadowed request whose invocation has less time left than this skips its challenger (and counts the skip):
# the challenger must never be the reason an answer misses the function's timeout.
SHADOW_MIN_REMAINING_MS = 1_000


class SettingsError(ValueError):
    """An environment variable holds a value the service cannot run with."""


@dataclass(frozen=True)
class Settings:
    models_dir: Path
    max_rows: int
    # s3://bucket/prefix/ holding a built models folder; empty: the models layer at models_dir.
    model_source: str
    download_dir: Path
    # A row whose top score is below this counts as a LowConfidenceRows.
    low_confidence_threshold: float = DEFAULT_LOW_CONFIDENCE_THRESHOLD
    # The share of answered requests written as data-capture records, in percent.
    data_capture_percent: float = DEFAULT_DATA_CAPTURE_PERCENT
    # The share of answered requests a model's challenger also scores, in the champion's shadow, in percent.
    shadow_percent: float = DEFAULT_SHADOW_PERCENT
    # The labels the stack's alarms watch (its Labels parameter), which the models' labels file must name, in
    # its order; None when the environment names none (not deployed by the stack).
    expected_labels: tuple[str, ...] | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        raw_max_rows = environ.get("KYBER_MAX_ROWS", str(DEFAULT_MAX_ROWS))
        try:
            max_rows = int(raw_max_rows)
        except ValueError:
            raise SettingsError(f"KYBER_MAX_ROWS must be an integer, got {raw_max_rows!r}") from None
        if max_rows < 1:
            raise SettingsError(f"KYBER_MAX_ROWS must be at least 1, got {max_rows}")
        model_source = environ.get("KYBER_MODEL_SOURCE", "").strip()
        if model_source and not model_source.startswith("s3://"):
            raise SettingsError(f"KYBER_MODEL_SOURCE must be empty or s3://bucket/prefix/, got {model_source!r}")
        return cls(
            models_dir=Path(environ.get("KYBER_MODELS_DIR", DEFAULT_MODELS_DIR)),
            max_rows=max_rows,
            model_source=model_source,
            download_dir=Path(environ.get("KYBER_DOWNLOAD_DIR", DEFAULT_DOWNLOAD_DIR)),
            low_confidence_threshold=_number_between(
                environ, "KYBER_LOW_CONFIDENCE_THRESHOLD", DEFAULT_LOW_CONFIDENCE_THRESHOLD, 0.0, 1.0
            ),
            data_capture_percent=_number_between(
                environ, "KYBER_DATA_CAPTURE_PERCENT", DEFAULT_DATA_CAPTURE_PERCENT, 0.0, 100.0
            ),
            shadow_percent=_number_between(environ, "KYBER_SHADOW_PERCENT", DEFAULT_SHADOW_PERCENT, 0.0, 100.0),
            expected_labels=_labels(environ.get("KYBER_LABELS", "")),
        )


def _number_between(environ: Mapping[str, str], name: str, default: float, lowest: float, highest: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not lowest <= value <= highest:
        raise SettingsError(f"{name} must be between {lowest:g} and {highest:g}, got {raw}")
    return value


def _labels(raw: str) -> tuple[str, ...] | None:
    """A comma-separated list, as CloudFormation joins a CommaDelimitedList parameter; None when empty."""
    return tuple(label.strip() for label in raw.split(",")) if raw.strip() else None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_environ(os.environ)
