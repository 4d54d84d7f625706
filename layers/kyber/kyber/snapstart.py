"""What SnapStart snapshots, and what it must not hand to every environment restored from the snapshot.

With SnapStart, Lambda runs a published version's init once (models verified and loaded), takes a
snapshot of it, and restores each new execution environment from that snapshot. Lambda's Python
runtime calls the hooks registered through snapshot_restore_py:

- before the snapshot, each model scores one row, so ONNX Runtime's first-run work is in the
  snapshot rather than in the first request of every restored environment; and the S3 client, if
  the models came from S3, closes its connections, which would be dead after a restore;
- after a restore, Python's random generator is seeded afresh (Powertools' log sampling draws from
  it): restored environments would otherwise all draw the same sequence.

Nothing else of the init depends on time or on the environment: settings come from environment
variables, which a restore keeps, and no connection stays open.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable

import numpy as np
from snapshot_restore_py import register_after_restore, register_before_snapshot

from kyber.model_source import s3_client
from kyber.observability import elapsed_ms, logger
from kyber.registry import CrystalModel


def prime_models(models: Iterable[CrystalModel], feature_count: int) -> None:
    """Score one row of zeros with each model (a row every model's build verified)."""
    started = time.perf_counter()
    row = np.zeros((1, feature_count))
    names = []
    for model in models:
        model.score(row)
        names.append(model.name)
    duration_ms = elapsed_ms(started)
    logger.info("models primed for the snapshot", models=names, duration_ms=duration_ms)


def close_connections() -> None:
    """Close the S3 client's connection pool, when the models were fetched from S3."""
    if s3_client.cache_info().currsize:
        s3_client().close()
        s3_client.cache_clear()


def reseed_random() -> None:
    """Seed Python's random generator from the operating system's entropy, as a fresh process does."""
    random.seed()


def before_snapshot(models: Iterable[CrystalModel], feature_count: int) -> None:
    prime_models(models, feature_count)
    close_connections()


def register_hooks(models: Iterable[CrystalModel], feature_count: int) -> None:
    """Register this execution environment's hooks; Lambda calls them only for SnapStart versions."""
    register_before_snapshot(before_snapshot, tuple(models), feature_count)
    register_after_restore(reseed_random)
