"""The model card each build writes beside its model: valid against the Model Card Toolkit's v0.0.2 schema, and
saying what the build measured of the served file.

model_card.schema.json is that schema (repository tensorflow/model-card-toolkit, file
model_card_toolkit/schema/v0.0.2/model_card.schema.json) as of its commit 74d7e6d, which fixed
its one `$ref` of `#definitions/graphic` to `#/definitions/graphic`; without the slash the reference cannot
be resolved and no card with graphics could be validated. Two properties are ours, each described with
"Kyber:", where the toolkit's schema allows properties of any name: model_details.promotion (how a champion
was promoted) and quantitative_analysis.comparison (how a challenger compared with its champion); a card
holding them is still valid against the toolkit's schema as published.
"""

from __future__ import annotations

import base64
import io
import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import pytest
from PIL import Image
from sklearn import metrics

from kyber.manifest import Manifest, sha256_of
from model_build.compile import build_date
from model_build.evaluation import read_evaluation_data

SCHEMA = json.loads(Path(__file__).with_name("model_card.schema.json").read_text(encoding="utf-8"))
LABELS = ("blue", "green", "yellow")
MODELS = ["sklearn", "pytorch"]


def read_card(models: Path, name: str) -> dict[str, Any]:
    card: dict[str, Any] = json.loads((models / f"{name}.model-card.json").read_text(encoding="utf-8"))
    return card


def metric_values(card: dict[str, Any], slice_: str | None = None) -> dict[str, str]:
    return {
        entry["type"]: entry["value"]
        for entry in card["quantitative_analysis"]["performance_metrics"]
        if entry.get("slice") == slice_
    }


def validator() -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


@pytest.mark.parametrize("model", MODELS)
def test_the_default_models_cards_are_valid_model_cards(built_models: Path, model: str) -> None:
    validator().validate(read_card(built_models, model))


@pytest.mark.parametrize("model", MODELS)
def test_the_ml_teams_models_cards_are_valid_model_cards(reference_layer: Path, model: str) -> None:
    validator().validate(read_card(reference_layer, model))


def test_the_schema_refuses_what_is_not_a_card() -> None:
    # The schema is strict where it says so: no unknown top-level key, a date that is a date
    errors = list(validator().iter_errors({"model_detail": {}, "model_details": {"version": {"date": "yesterday"}}}))
    assert sorted(error.validator for error in errors) == ["additionalProperties", "format"]


@pytest.mark.parametrize("model", MODELS)
def test_a_card_is_listed_in_the_manifest_with_its_hash(default_build: tuple[Path, Manifest], model: str) -> None:
    models, manifest = default_build
    card = manifest.models[model].card
    assert card.file == f"{model}.model-card.json"
    assert card.sha256 == sha256_of(models / card.file)
    assert card.file in manifest.files()


@pytest.mark.parametrize("model", MODELS)
def test_a_card_names_the_served_file_its_version_and_its_source(
    default_build: tuple[Path, Manifest], default_artifacts: Path, model: str
) -> None:
    models, manifest = default_build
    details = read_card(models, model)["model_details"]
    served = sha256_of(models / f"{model}.onnx")
    assert details["name"] == model
    assert details["path"] == f"{model}.onnx"
    assert details["version"]["name"] == served[:12] == manifest.models[model].sha256[:12]
    assert (
        details["version"]["diff"]
        == f"exported from {model}.model, sha256 {sha256_of(default_artifacts / f'{model}.model')}"
    )
    assert served in details["documentation"]
    assert details["owners"] == [{"name": "Kyber crystal ML team"}]


@pytest.mark.parametrize("model", MODELS)
def test_a_cards_metrics_are_what_the_served_model_scores_on_the_evaluation_rows(
    built_models: Path, default_artifacts: Path, onnx_probabilities: Any, model: str
) -> None:
    # Given the evaluation rows scored here by the built ONNX file, the way the service runs it
    data = read_evaluation_data(default_artifacts / "evaluation.csv", LABELS, 4)
    scores = onnx_probabilities(built_models, model, data.features).astype(np.float64)
    predicted = scores.argmax(axis=1)
    card = read_card(built_models, model)
    # Then the card's overall figures are those, with no slice
    overall = metric_values(card)
    assert overall["accuracy"] == f"{np.mean(predicted == data.target):.4f}"
    assert overall["balanced accuracy"] == f"{metrics.balanced_accuracy_score(data.target, predicted):.4f}"
    normalised = scores / scores.sum(axis=1, keepdims=True)
    assert float(overall["log loss"]) == pytest.approx(metrics.log_loss(data.target, normalised), abs=1e-4)
    assert overall["macro F1"] == f"{metrics.f1_score(data.target, predicted, average='macro'):.4f}"
    assert overall["weighted precision"] == f"{metrics.precision_score(data.target, predicted, average='weighted'):.4f}"
    assert overall["evaluation rows"] == "45"
    # And each label's, sliced by its name
    for index, label in enumerate(LABELS):
        sliced = metric_values(card, label)
        found = predicted[data.target == index] == index
        assert sliced["recall"] == f"{found.mean():.4f}"
        assert sliced["support"] == str(int(np.sum(data.target == index)))
        assert set(sliced) == {"precision", "recall", "F1", "support"}


@pytest.mark.parametrize("model", MODELS)
def test_a_cards_graphics_are_the_confusion_matrix_and_calibration_curve_as_png(built_models: Path, model: str) -> None:
    graphics = read_card(built_models, model)["quantitative_analysis"]["graphics"]["collection"]
    assert [graphic["name"] for graphic in graphics] == ["Confusion matrix", "Calibration curve"]
    for graphic in graphics:
        image = Image.open(io.BytesIO(base64.b64decode(graphic["image"], validate=True)))
        assert image.format == "PNG"
        assert image.size[0] > 200
        assert image.size[1] > 200


def test_a_card_says_who_it_is_for_and_where_it_was_not_measured(built_models: Path, default_artifacts: Path) -> None:
    data = read_evaluation_data(default_artifacts / "evaluation.csv", LABELS, 4)
    considerations = read_card(built_models, "pytorch")["considerations"]
    assert "droid fleet" in considerations["users"][0]["description"]
    (ranges, rows, _) = [limitation["description"] for limitation in considerations["limitations"]]
    low, high = data.features[:, 2].min(), data.features[:, 2].max()
    assert f"petal_length {low:g} to {high:g}," in ranges
    assert "outside" in ranges
    assert "45 evaluation rows" in rows


def test_a_cards_date_is_source_date_epochs_day_when_it_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    # `make` sets it to the artifacts' last commit, so the same models build the same layer on any day
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(86_400 * 365 + 3_600))
    assert build_date() == date(1971, 1, 1)
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    assert build_date() == datetime.now(tz=UTC).date()
