"""The models folder's own files: the labels file's rules, and the manifest as the build writes it and the service
reads it, every wrong field named with its path."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from kyber.errors import ModelArtifactError
from kyber.labels import LabelsFileError, parse_labels
from kyber.manifest import TRAINING_RANGE_FILE, Manifest, TrainingRange
from kyber.registry import ModelRegistry
from tests.support.service import DEFAULT_ARTIFACTS


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("'blue'", "labels file must hold a non-empty list"),
        ("[]", "labels file must hold a non-empty list"),
        ("['blue', '']", "every label must be a non-empty string"),
        ("['blue', 3]", "every label must be a non-empty string"),
        ("['blue', 'blue']", "labels must be distinct"),
        ("['blue', 'green'", "labels file is not a Python literal"),
    ],
)
def test_a_labels_file_that_is_not_a_list_of_distinct_names_is_refused(text, reason):
    with pytest.raises(LabelsFileError) as refused:
        parse_labels(text)
    assert str(refused.value) == reason


def test_labels_may_be_a_tuple_and_surrounding_whitespace_is_ignored():
    assert parse_labels("\n ('blue', 'green', 'yellow') \n") == ("blue", "green", "yellow")


def test_a_labels_file_that_does_not_parse_is_refused_naming_it_and_why(models_dir, tmp_path):
    # Given a models folder whose labels file, hashed into its manifest, holds a bare string
    copy = tmp_path / "models"
    shutil.copytree(models_dir, copy)
    (copy / "output_labels.txt").write_text("'blue'\n")
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["labels_file"]["sha256"] = hashlib.sha256(b"'blue'\n").hexdigest()
    (copy / "manifest.json").write_text(json.dumps(manifest))
    # Then the registry refuses it, naming the file and what is wrong with it
    with pytest.raises(ModelArtifactError) as refused:
        ModelRegistry(copy)
    assert str(refused.value) == f"{copy / 'output_labels.txt'}: labels file must hold a non-empty list"


def test_the_manifest_is_written_with_two_space_indents_and_a_final_newline(default_build):
    models_dir, manifest = default_build
    text = manifest.to_json()
    assert text.startswith('{\n  "format": 2,\n  "labels": [\n    "blue",')
    assert text.endswith("}\n")
    assert (models_dir / "manifest.json").read_text() == text


def test_a_manifest_of_another_format_is_refused_saying_which_format_is_read(tmp_path):
    with pytest.raises(ModelArtifactError) as refused:
        Manifest.from_json(b'{"format": 1}', tmp_path / "manifest.json")
    assert str(refused.value) == f"{tmp_path / 'manifest.json'} is not manifest format 2"


def mutated_manifest(default_build, change) -> bytes:
    """The default build's manifest with one change applied to its parsed form."""
    document = json.loads(default_build[1].to_json())
    change(document)
    return json.dumps(document).encode()


def set_field(*path_and_value):
    *path, key, value = path_and_value

    def change(document):
        for step in path:
            document = document[step]
        document[key] = value

    return change


def drop_field(*path):
    *parents, key = path

    def change(document):
        for step in parents:
            document = document[step]
        del document[key]

    return change


PARITY = "m.json > models > sklearn > parity"
COST = "m.json > models > sklearn > serving_cost"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (set_field("models", "sklearn", "parity", "max_abs_diff", True), f"{PARITY}: 'max_abs_diff' must be a number"),
        (set_field("models", "sklearn", "parity", "max_abs_diff", "4"), f"{PARITY}: 'max_abs_diff' must be a number"),
        (set_field("models", "sklearn", "file", 4), "m.json > models > sklearn: 'file' must be a str"),
        (set_field("models", "sklearn", "parity", []), "m.json > models > sklearn: 'parity' must be a dict"),
        (drop_field("models", "sklearn", "parity", "tolerance"), f"{PARITY} has no 'tolerance'"),
        (set_field("feature_count", 4.0), "m.json: 'feature_count' must be a int"),
        (
            set_field("models", "sklearn", "serving_cost", "limits", {"max_load_ms": "1 s"}),
            f"{COST}: 'limits' must map each limit to a number",
        ),
        (
            set_field("models", "sklearn", "serving_cost", "limits", {"max_load_ms": float("inf")}),
            f"{COST}: 'limits' must map each limit to a number",
        ),
        (set_field("models", "sklearn", "serving_cost", "onnx_bytes", 888.0), f"{COST}: 'onnx_bytes' must be a int"),
        (drop_field("models", "sklearn", "serving_cost", "gate"), f"{COST} has no 'gate'"),
        (
            set_field("training_range", "minimum", [0.0, 1.0, 2.0]),
            "m.json > training_range: minimum and maximum must pair up, each minimum at most its maximum",
        ),
        (
            set_field("training_range", {"minimum": [0.0, 1.0], "maximum": [1.0, 2.0], "source": "t"}),
            "m.json: the training range must name 4 features",
        ),
    ],
)
def test_a_manifest_field_missing_or_of_the_wrong_kind_is_refused_naming_its_path_and_kind(
    default_build, change, reason
):
    with pytest.raises(ModelArtifactError) as refused:
        Manifest.from_json(mutated_manifest(default_build, change), Path("m.json"))
    assert str(refused.value) == reason


def test_a_manifest_that_is_not_an_object_is_refused():
    with pytest.raises(ModelArtifactError) as refused:
        Manifest.from_json(b"[]", Path("m.json"))
    assert str(refused.value) == "m.json must be a JSON object"


@pytest.mark.parametrize("value", [0, 2.5e-16])
def test_a_manifest_number_may_be_an_integer_or_a_float(default_build, value):
    raw = mutated_manifest(default_build, set_field("models", "sklearn", "parity", "max_abs_diff", value))
    assert Manifest.from_json(raw, Path("m.json")).models["sklearn"].parity.max_abs_diff == float(value)


def test_a_manifest_without_challengers_writes_no_challengers_key_and_reads_back_none(default_build):
    _, manifest = default_build
    assert "challengers" not in json.loads(manifest.to_json())
    assert Manifest.from_json(manifest.to_json().encode(), Path("m.json")).challengers == {}


def test_a_manifest_with_a_challenger_reads_it_back_and_names_its_files_among_the_layers(default_build):
    # Given the default manifest with the sklearn entry as a challenger under challenger/
    _, manifest = default_build
    entry = json.loads(manifest.to_json())["models"]["sklearn"]
    entry["file"], entry["card"]["file"] = "challenger/sklearn.onnx", "challenger/sklearn.model-card.json"
    raw = mutated_manifest(default_build, set_field("challengers", {"sklearn": entry}))
    # When it is read
    read = Manifest.from_json(raw, Path("m.json"))
    # Then the challenger is there, written back byte for byte, and its files are hashed like the champion's
    assert read.challengers["sklearn"].file == "challenger/sklearn.onnx"
    assert json.loads(read.to_json()) == json.loads(raw)
    assert {"challenger/sklearn.onnx", "challenger/sklearn.model-card.json"} <= set(read.files())


def test_a_challenger_for_a_model_the_manifest_does_not_serve_is_refused(default_build):
    entry = json.loads(default_build[1].to_json())["models"]["sklearn"]
    with pytest.raises(ModelArtifactError) as refused:
        Manifest.from_json(mutated_manifest(default_build, set_field("challengers", {"xgb": entry})), Path("m.json"))
    assert str(refused.value) == "m.json: a challenger for a model it does not serve: xgb"
    both = set_field("challengers", {"xgb": entry, "lgbm": entry})
    with pytest.raises(ModelArtifactError) as refused:
        Manifest.from_json(mutated_manifest(default_build, both), Path("m.json"))
    assert str(refused.value) == "m.json: a challenger for a model it does not serve: lgbm, xgb"


def test_a_manifest_without_a_training_range_reads_back_none(default_build):
    raw = mutated_manifest(default_build, drop_field("training_range"))
    assert Manifest.from_json(raw, Path("m.json")).training_range is None


def test_a_training_range_file_that_cannot_be_read_or_does_not_pair_up_is_refused_naming_it(tmp_path):
    missing = tmp_path / "missing.json"
    with pytest.raises(ModelArtifactError) as refused:
        TrainingRange.read(missing)
    assert str(refused.value).startswith(f"cannot read {missing}: [Errno 2] No such file or directory")
    unpaired = tmp_path / "unpaired.json"
    unpaired.write_text(json.dumps({"minimum": [0.0, 1.0], "maximum": [1.0]}))
    with pytest.raises(ModelArtifactError) as refused:
        TrainingRange.read(unpaired)
    assert str(refused.value) == f"{unpaired}: minimum and maximum must pair up, each minimum at most its maximum"
    unlisted = tmp_path / "unlisted.json"
    unlisted.write_text(json.dumps({"minimum": "low", "maximum": [1.0]}))
    with pytest.raises(ModelArtifactError) as refused:
        TrainingRange.read(unlisted)
    assert str(refused.value) == f"{unlisted}: 'minimum' must be a list"


def test_the_committed_training_range_is_written_as_the_trainer_writes_it_and_reads_back_the_same():
    # Given the delivery's training range, which make train writes with TrainingRange.to_json
    path = DEFAULT_ARTIFACTS / TRAINING_RANGE_FILE
    delivered = TrainingRange.read(path)
    # Then writing it again gives the committed file byte for byte, and reading that gives the same range
    assert delivered.to_json() == path.read_text(encoding="utf-8")
    assert TrainingRange.from_document(json.loads(delivered.to_json()), "written", path.name) == delivered


def test_a_feature_the_training_data_held_constant_has_its_minimum_equal_to_its_maximum():
    constant = TrainingRange.from_document({"minimum": [1.5, 0.0], "maximum": [1.5, 2.0]}, "r.json", "r.json")
    assert (constant.minimum, constant.maximum) == ((1.5, 0.0), (1.5, 2.0))
    with pytest.raises(ModelArtifactError, match="each minimum at most its maximum"):
        TrainingRange.from_document({"minimum": [1.5, 2.5], "maximum": [1.5, 2.0]}, "r.json", "r.json")


def test_a_manifest_built_before_the_serving_cost_was_recorded_reads_back_none_and_writes_none(default_build):
    # Given the default manifest without the sklearn model's serving cost, and with a challenger that has none
    challenger = json.loads(default_build[1].to_json())["models"]["sklearn"]
    challenger["file"], challenger["card"]["file"] = "challenger/sklearn.onnx", "challenger/sklearn.model-card.json"
    del challenger["serving_cost"]

    def change(document):
        drop_field("models", "sklearn", "serving_cost")(document)
        document["challengers"] = {"sklearn": challenger}

    raw = mutated_manifest(default_build, change)
    # When it is read, then neither has one, and it is written back with no serving_cost key where there was none
    read = Manifest.from_json(raw, Path("m.json"))
    assert read.models["sklearn"].serving_cost is None
    assert read.challengers["sklearn"].serving_cost is None
    assert read.models["pytorch"].serving_cost == default_build[1].models["pytorch"].serving_cost
    assert json.loads(read.to_json()) == json.loads(raw)
