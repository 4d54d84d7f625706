"""Deliveries with a challenger (artifacts/challenger/): the default artifacts, with a scikit-learn model trained on
the project's training split as the challenger of the default one, as good as it or clearly worse."""

from __future__ import annotations

import shutil
from pathlib import Path

import joblib
import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.linear_model import LogisticRegression

from kyber.manifest import CHALLENGER_DIR
from model_build.training import split_iris
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


def with_challenger(folder: Path, challenger: ClassifierMixin | None = None, source: Path = DEFAULT_ARTIFACTS) -> Path:
    """A copy of source's delivery in folder, with challenger as its scikit-learn model's challenger (by default,
    the champion's own file)."""
    delivery = folder / "artifacts"
    shutil.copytree(source, delivery)
    (delivery / CHALLENGER_DIR).mkdir(exist_ok=True)
    if challenger is None:
        shutil.copyfile(delivery / "sklearn.model", delivery / CHALLENGER_DIR / "sklearn.model")
    else:
        joblib.dump(challenger, delivery / CHALLENGER_DIR / "sklearn.model")
    return delivery
