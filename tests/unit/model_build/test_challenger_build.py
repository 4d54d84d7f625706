"""A challenger per served model, delivered in artifacts/challenger/: built beside its champion through the same
gates, hashed in the manifest, verified at init, compared with its champion in its card, and refused when it is
worse than the challenger gate allows; without one, the build is what it was."""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path

import jsonschema
import pytest
from PIL import Image
from sklearn.svm import LinearSVC

from kyber.errors import ModelArtifactError
from kyber.manifest import CHALLENGER_DIR, Manifest, sha256_of
from kyber.registry import ModelRegistry
from model_build.__main__ import summary
from model_build.compare import ChallengerGateError
from model_build.contract import ModelContractError
from model_build.gate import QualityGate, QualityGateError
from model_build.layer import LayerBuild, build
from tests.support.challenger_deliveries import as_good, fitted_on_few_rows, retrained_network, with_challenger
from tests.support.service import DEFAULT_ARTIFACTS
from tests.support.sklearn_families import trained

SCHEMA = json.loads(Path(__file__).with_name("model_card.schema.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def challenged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, LayerBuild]:
    """The default delivery with a challenger for each model: the scikit-learn model with weaker regularisation,
    the network retrained from another seed."""
    folder = tmp_path_factory.mktemp("challenged")
    source = with_challenger(folder, sklearn=as_good(), pytorch=retrained_network())
    out = folder / "layer" / "models"
    return out, build(source, out)


def read_json(path: Path) -> dict:
    document: dict = json.loads(path.read_text(encoding="utf-8"))
    return document


def test_without_a_challenger_folder_the_manifest_names_no_challenger_and_the_layer_has_no_folder(default_build):
    models, manifest = default_build
    assert manifest.challengers == {}
    assert "challengers" not in read_json(models / "manifest.json")
    assert not (models / CHALLENGER_DIR).exists()


def test_a_challenger_leaves_its_champion_as_it_was_built_without_one(challenged, default_build):
    _, built = challenged
    assert built.manifest.models == default_build[1].models


@pytest.mark.parametrize("model", ["sklearn", "pytorch"])
def test_each_challenger_is_built_under_challenger_with_its_card_both_hashed_in_the_manifest(challenged, model):
    models, built = challenged
    entry = built.manifest.challengers[model]
    assert (entry.file, entry.card.file) == (f"challenger/{model}.onnx", f"challenger/{model}.model-card.json")
    assert entry.sha256 == sha256_of(models / entry.file)
    assert entry.card.sha256 == sha256_of(models / entry.card.file)
    assert {entry.file, entry.card.file} <= set(built.manifest.files())
    # Its own version, derived like the champion's, differs from the champion's
    assert entry.sha256[:12] != built.manifest.models[model].sha256[:12]
    assert entry.source.file == f"{model}.model"
    assert entry.source.sha256 == sha256_of(models.parent.parent / "artifacts" / CHALLENGER_DIR / f"{model}.model")


def test_the_manifest_with_challengers_is_read_back_as_written(challenged):
    models, built = challenged
    assert Manifest.from_json((models / "manifest.json").read_bytes(), models / "manifest.json") == built.manifest


def test_a_challenger_goes_through_the_champions_gates_and_is_measured_on_the_same_rows(challenged):
    _, built = challenged
    challenger, champion = built.manifest.challengers["sklearn"], built.manifest.models["sklearn"]
    assert challenger.parity.rows == champion.parity.rows
    assert challenger.parity.max_abs_diff <= challenger.parity.tolerance
    assert challenger.evaluation.data_sha256 == champion.evaluation.data_sha256
    assert built.challengers["sklearn"].assessment.cost.onnx_bytes > 0


def test_the_comparison_is_that_of_both_models_on_the_evaluation_rows(challenged):
    _, built = challenged
    comparison = built.challengers["sklearn"].comparison
    champion, challenger = built.manifest.models["sklearn"], built.manifest.challengers["sklearn"]
    assert comparison.champion.version == champion.sha256[:12]
    assert comparison.challenger.version == challenger.sha256[:12]
    assert comparison.champion.accuracy == champion.evaluation.accuracy
    assert comparison.challenger.accuracy == challenger.evaluation.accuracy
    assert comparison.challenger.log_loss == challenger.evaluation.log_loss
    # Weaker regularisation names one more yellow crystal right and no other row differently
    assert (comparison.fixed, comparison.broken, comparison.disagreements) == (1, 0, 1)
    # The network retrained from another seed names every row as the champion does
    assert built.challengers["pytorch"].comparison.disagreements == 0


@pytest.mark.parametrize("model", ["sklearn", "pytorch"])
def test_a_challengers_card_is_a_valid_card_that_holds_its_comparison_and_flip_table(challenged, model):
    models, built = challenged
    card = read_json(models / CHALLENGER_DIR / f"{model}.model-card.json")
    jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER).validate(card)
    comparison = card["quantitative_analysis"]["comparison"]
    assert comparison["champion"]["version"] == built.manifest.models[model].sha256[:12]
    assert comparison["challenger"]["version"] == card["model_details"]["version"]["name"]
    assert (comparison["margin"], comparison["gate"]) == (0.1, "challenger_gate.toml")
    assert card["model_details"]["overview"].startswith(f"A challenger to the {model} Kyber crystal classifier")
    collection = card["quantitative_analysis"]["graphics"]["collection"]
    graphics = {graphic["name"]: graphic["image"] for graphic in collection}
    assert Image.open(io.BytesIO(base64.b64decode(graphics["Flip table"]))).format == "PNG"


def test_the_champions_cards_hold_no_comparison(challenged):
    models, _ = challenged
    for model in ("sklearn", "pytorch"):
        assert "comparison" not in read_json(models / f"{model}.model-card.json")["quantitative_analysis"]


def test_a_layer_with_challengers_is_verified_at_init_and_a_changed_challenger_card_is_refused(challenged, tmp_path):
    # Given the layer as built, then a copy whose challenger card was edited after the build
    models, _ = challenged
    assert ModelRegistry(models).manifest.challengers.keys() == {"sklearn", "pytorch"}
    copy = tmp_path / "models"
    shutil.copytree(models, copy)
    card = copy / CHALLENGER_DIR / "sklearn.model-card.json"
    card.write_text(card.read_text().replace('"margin": 0.1', '"margin": 0.5'))
    # When a function starts on it, then it refuses the file naming it
    with pytest.raises(ModelArtifactError, match=r"challenger/sklearn.model-card.json has sha256"):
        ModelRegistry(copy)


def test_a_clearly_worse_challenger_that_passes_the_quality_gate_is_refused_by_the_challenger_gate(tmp_path):
    # Given a challenger fitted on 5 rows per label, and a quality gate low enough to let it through
    source = with_challenger(tmp_path, sklearn=fitted_on_few_rows())
    lenient = QualityGate(min_accuracy=0.8, min_lowest_recall=0.6, source=tmp_path / "quality_gate.toml")
    out = tmp_path / "layer" / "models"
    # When the layer is built, then the challenger gate refuses it naming both accuracies, and nothing is written
    with pytest.raises(ChallengerGateError) as refused:
        build(source, out, gate=lenient)
    assert str(refused.value) == (
        "challenger gate: challenger sklearn has accuracy 0.8667, the champion 0.9333 on 45 evaluation rows: the lower "
        "bound of the 95% interval of their difference is -0.1556, below the margin -0.1000 set in challenger_gate.toml"
    )
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_a_challenger_below_the_quality_gate_is_refused_by_it_naming_the_challengers_file(tmp_path):
    source = with_challenger(tmp_path, sklearn=fitted_on_few_rows())
    with pytest.raises(QualityGateError) as refused:
        build(source, tmp_path / "layer" / "models")
    assert str(refused.value) == (
        "challenger/sklearn.model: quality gate: model sklearn has accuracy 0.8667 on 45 evaluation rows, below the "
        "threshold 0.9000 set in quality_gate.toml"
    )


def test_a_challenger_the_contract_refuses_is_refused_naming_the_challengers_file(tmp_path):
    source = with_challenger(tmp_path, sklearn=trained(LinearSVC()))
    refusal = r"^challenger/sklearn.model: sklearn model \(sklearn.model\): LinearSVC has no predict_proba"
    with pytest.raises(ModelContractError, match=refusal):
        build(source, tmp_path / "layer" / "models")


def test_the_champions_own_file_delivered_as_its_challenger_is_refused(tmp_path):
    source = with_challenger(tmp_path, sklearn=DEFAULT_ARTIFACTS / "sklearn.model")
    with pytest.raises(ChallengerGateError, match=r"challenger sklearn is the champion itself: the same served ONNX"):
        build(source, tmp_path / "layer" / "models")


def test_a_challenger_folder_without_a_model_is_refused_saying_what_to_deliver(tmp_path):
    source = with_challenger(tmp_path)
    with pytest.raises(ModelContractError) as refused:
        build(source, tmp_path / "layer" / "models")
    assert str(refused.value) == (
        "challenger/ holds no model: deliver sklearn.model, pytorch.model there, or remove the folder"
    )


def test_the_builds_summary_says_how_each_challenger_compared(challenged):
    models, built = challenged
    printed = summary(built, models, 1.0)
    comparison = built.challengers["sklearn"].comparison
    assert f"  sklearn  challenger challenger/sklearn.onnx sha256 {comparison.challenger.version}" in printed
    assert (
        "accuracy 0.9556, the champion 0.9333: difference +0.0222, 95% interval +0.0000 to +0.0667; 1 fixed, "
        "0 broken (McNemar exact p 1.000)"
    ) in printed
