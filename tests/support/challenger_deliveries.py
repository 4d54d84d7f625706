"""Deliveries with challengers (artifacts/challenger/): the default artifacts, with models trained on the project's
training split as the challengers of the default ones, as good as them or clearly worse."""

from __future__ import annotations

import shutil
from pathlib import Path

import joblib
import numpy as np
import torch
from sklearn.base import ClassifierMixin
from sklearn.linear_model import LogisticRegression

from kyber.manifest import CHALLENGER_DIR
from model_build.crystal_mlp import CrystalMLP
from model_build.training import split_iris, train_mlp
from tests.support.service import DEFAULT_ARTIFACTS


def as_good() -> ClassifierMixin:
    """The champion's family with a tiny change (weaker regularisation): it names one more row right on the
    evaluation rows and disagrees with the champion on no other."""
    split = split_iris()
    return LogisticRegression(C=2.0, max_iter=1_000).fit(split.training_features, split.training_target)


def fitted_on_few_rows(per_label: int = 5) -> ClassifierMixin:
    """The champion's family fitted on the first rows of each label only: clearly worse than the champion."""
    split = split_iris()
    chosen = np.concatenate([np.flatnonzero(split.training_target == label)[:per_label] for label in range(3)])
    return LogisticRegression(max_iter=1_000).fit(split.training_features[chosen], split.training_target[chosen])


def retrained_network(seed: int = 7) -> CrystalMLP:
    """The champion network's architecture and training, from another seed."""
    split = split_iris()
    threads = torch.get_num_threads()
    # One thread, as the project's training: many threads on a network this small take 20 times as long.
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return train_mlp(split.training_features, split.training_target, class_count=3)
    finally:
        torch.set_num_threads(threads)


def with_challenger(
    folder: Path,
    sklearn: ClassifierMixin | Path | None = None,
    pytorch: CrystalMLP | None = None,
    source: Path = DEFAULT_ARTIFACTS,
) -> Path:
    """A copy of source's delivery in folder, with these challengers (a scikit-learn model, or a file to copy as
    one) in its challenger folder."""
    delivery = folder / "artifacts"
    shutil.copytree(source, delivery)
    challengers = delivery / CHALLENGER_DIR
    challengers.mkdir(exist_ok=True)
    if isinstance(sklearn, Path):
        shutil.copyfile(sklearn, challengers / "sklearn.model")
    elif sklearn is not None:
        joblib.dump(sklearn, challengers / "sklearn.model")
    if pytorch is not None:
        torch.save(pytorch.state_dict(), challengers / "pytorch.model")
    return delivery
