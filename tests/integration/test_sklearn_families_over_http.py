"""Each scikit-learn family the build accepts, its models layer built by the build's own command into a copy of the
project's `sam build` output, served by sam local start-api: /sklearn and /astromech answer the held-out rows with
the native model's scores, within the parity tolerance the build held the export to."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from model_build.layer import build
from model_build.training import split_iris
from scripts.harness.local_api import post
from scripts.project import built_models
from tests.support.local_api import copy_of_the_build, start_local_api, stop_local_api
from tests.support.sklearn_families import FAMILIES, delivery, trained

pytestmark = pytest.mark.integration

LABELS = ("blue", "green", "yellow")


@pytest.fixture(scope="module", params=list(FAMILIES))
def family_api(request, emulator_containers, tmp_path_factory) -> Iterator[dict[str, Any]]:
    # Given the project's build with its models layer rebuilt from a delivery of this family
    make, precision = FAMILIES[request.param]
    model = trained(make())
    folder = tmp_path_factory.mktemp("family")
    project = copy_of_the_build(folder / "project")
    models = built_models(project)
    shutil.rmtree(models)
    manifest = build(delivery(folder, model), models).manifest
    # When sam local serves it
    api = start_local_api(project, folder / "start-api.log")
    try:
        yield {"model": model, "precision": precision, "manifest": manifest, "api": api}
    finally:
        stop_local_api(api)


@pytest.mark.parametrize("route", ["sklearn", "astromech"])
def test_the_served_scores_are_the_native_models_within_its_parity_tolerance(family_api, route):
    rows = split_iris().held_out_features
    payload: dict[str, Any] = {"crystalData": rows.tolist()}
    if route == "astromech":
        payload["model"] = "sklearn"
    answer = post(f"{family_api['api'].url}/{route}", json.dumps(payload))
    # Then the answer is the native model's, within the tolerance the build recorded for the export
    assert answer.status == 200
    entry = family_api["manifest"].models["sklearn"]
    assert answer.headers["X-Kyber-Model-Version"] == entry.sha256[:12]
    served = np.array([[row[label] for label in LABELS] for row in answer.body["scores"]])
    native = family_api["model"].predict_proba(rows.astype(family_api["precision"]))
    assert np.abs(served - native).max() <= entry.parity.tolerance
    assert answer.body["prediction"] == [LABELS[index] for index in native.argmax(axis=1)]
