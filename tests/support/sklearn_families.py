"""Models of each scikit-learn family the build accepts, trained on the project's training split, and delivered in
place of the default scikit-learn model: for the unit tests of the build and the integration tests over HTTP."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import joblib
import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from model_build.training import split_iris
from tests.support.service import DEFAULT_ARTIFACTS

# Each family, and the precision it is served in.
FAMILIES: dict[str, tuple[Callable[[], ClassifierMixin], str]] = {
    "random forest": (lambda: RandomForestClassifier(n_estimators=60, random_state=0), "float32"),
    "gradient boosting": (lambda: GradientBoostingClassifier(n_estimators=60, random_state=0), "float32"),
    "scaler and SVC": (lambda: make_pipeline(StandardScaler(), SVC(probability=True, random_state=0)), "float64"),
    "scaler and logistic regression": (
        lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        "float64",
    ),
    "nearest neighbours": (lambda: KNeighborsClassifier(n_neighbors=7), "float64"),
}


def trained(estimator: ClassifierMixin, target: Callable[[np.ndarray], np.ndarray] = lambda y: y) -> ClassifierMixin:
    split = split_iris()
    return estimator.fit(split.training_features, target(split.training_target))


def delivery(folder: Path, model: ClassifierMixin, labels: str | None = None) -> Path:
    """The default artifacts with this scikit-learn model (and labels file) in place of the ML team's."""
    source = folder / "artifacts"
    shutil.copytree(DEFAULT_ARTIFACTS, source)
    joblib.dump(model, source / "sklearn.model")
    if labels is not None:
        (source / "output_labels.txt").write_text(labels)
    return source
