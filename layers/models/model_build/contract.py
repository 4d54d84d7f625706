"""The service's contract every model is held to: 4 features in, one score per label out; the errors a build
refuses a delivery with; the training range the manifest records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.datasets import load_iris

from kyber.manifest import TRAINING_RANGE_FILE, TrainingRange

FEATURE_COUNT = 4


class ModelsLayerError(Exception):
    """The models layer cannot be built from these artifacts."""


class ModelContractError(ModelsLayerError):
    """A model does not take FEATURE_COUNT features, or does not give one output per label."""


def check_contract(name: str, feature_count: int, output_count: int, labels: tuple[str, ...]) -> None:
    if feature_count != FEATURE_COUNT:
        raise ModelContractError(f"{name} model takes {feature_count} features, not {FEATURE_COUNT}")
    if output_count != len(labels):
        raise ModelContractError(
            f"{name} model gives {output_count} outputs but the labels file names {len(labels)}: {list(labels)}"
        )


def training_range(source: Path) -> TrainingRange:
    """The delivery's training_range.json, or without one the range of scikit-learn's Iris data."""
    path = source / TRAINING_RANGE_FILE
    if path.exists():
        delivered = TrainingRange.read(path)
        if len(delivered.minimum) != FEATURE_COUNT:
            features = len(delivered.minimum)
            raise ModelContractError(f"{path.name} gives the range of {features} features, not {FEATURE_COUNT}")
        return delivered
    iris = np.asarray(load_iris().data, dtype=np.float64)
    return TrainingRange(
        minimum=tuple(iris.min(axis=0).tolist()),
        maximum=tuple(iris.max(axis=0).tolist()),
        source="sklearn.datasets.load_iris",
    )
