"""The protocol's inference response as written from a model's scores: the classification extension's strings carry
each score as the probabilities tensor writes it, and scores that tie are listed in the model's label order."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from kyber.inference_protocol.codec import TensorSpec
from kyber.inference_protocol.request import Inference
from kyber.inference_protocol.response import inference_response
from kyber.registry import CrystalModel, get_registry

OUTPUTS = (TensorSpec("probabilities", "FP64", [-1, 3]), TensorSpec("label", "BYTES", [-1]))


@pytest.fixture
def sklearn(models_dir) -> CrystalModel:
    return get_registry().get("sklearn")


def outputs_of(model: CrystalModel, scores: np.ndarray, asked: dict[str, int | None]) -> list[dict]:
    request = Inference(None, np.zeros((len(scores), 4)), asked)
    return json.loads(inference_response(model, request, scores, OUTPUTS))["outputs"]


def test_classification_strings_hold_each_score_as_the_probabilities_tensor_writes_it(sklearn):
    # Given scores whose shortest JSON forms differ from str(float) in places (an exponent, a whole number)
    scores = np.array([[0.5, 0.25, 0.25], [2.678146301158067e-9, 1.0, 0.0]])
    # When both the probabilities and the three best of each row are asked for
    (probabilities,) = outputs_of(sklearn, scores, {"probabilities": None})
    (classified,) = outputs_of(sklearn, scores, {"probabilities": 3})
    # Then each string starts with the very text the probabilities tensor holds for that score
    assert classified["data"] == [
        "0.5:0:blue",
        "0.25:1:green",
        "0.25:2:yellow",
        "1.0:1:green",
        "2.678146301158067e-9:0:blue",
        "0.0:2:yellow",
    ]
    assert probabilities["data"] == scores.ravel().tolist()


def test_scores_that_tie_are_classified_in_the_models_label_order(sklearn):
    # Given a model of eight labels and a row whose scores tie in threes and twos
    labels = ("blue", "green", "yellow", "red", "purple", "white", "black", "orange")
    model = dataclasses.replace(sklearn, labels=labels)
    scores = np.array([[1, 3, 2, 3, 2, 2, 3, 0]]) / 16
    # When every label is asked for, best first
    (classified,) = outputs_of(model, scores, {"probabilities": 8})
    # Then among equal scores the label listed first in the labels file comes first
    assert [entry.split(":", 1)[1] for entry in classified["data"]] == [
        "1:green",
        "3:red",
        "6:black",
        "2:yellow",
        "4:purple",
        "5:white",
        "0:blue",
        "7:orange",
    ]
    assert classified["shape"] == [1, 8]
