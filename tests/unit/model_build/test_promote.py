"""make promote: a model's challenger and champion swapped in the delivery, on a ready shadow report of that very
pair or forced with a reason, noted for the new champion's card; the same command goes back; refused, with nothing
changed, otherwise."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from kyber.manifest import CHALLENGER_DIR, sha256_of
from model_build.challenger import PROMOTION_FILE
from model_build.layer import build
from model_build.promote import NEXT_STEPS, Pair, PromotionError, built_pair, main, promote
from tests.support.challenger_deliveries import as_good, with_challenger

SCHEMA = json.loads(Path(__file__).with_name("model_card.schema.json").read_text(encoding="utf-8"))
NOW = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    """The versions of the default scikit-learn model and its as-good challenger, as every build derives them."""
    return built_pair(with_challenger(tmp_path_factory.mktemp("pair"), sklearn=as_good()), "sklearn")


@pytest.fixture
def delivery(tmp_path: Path) -> Path:
    return with_challenger(tmp_path, sklearn=as_good())


def write_report(reports: Path, pair: Pair, verdict: str = "ready", model: str = "sklearn", **change: str) -> Path:
    reports.mkdir(parents=True, exist_ok=True)
    report = {
        "model": model,
        "champion_version": pair.champion_version,
        "challenger_version": pair.challenger_version,
        "verdict": verdict,
        "reason": "agreement 0.99 on 12,000 rows, kappa 0.98",
        "generated_at": "2026-12-02T18:00:00Z",
        "agreement": 0.99,
        **change,
    }
    path = reports / f"{model}.json"
    path.write_text(json.dumps(report), encoding="utf-8")
    return path


def hashes(delivery: Path) -> dict[str, str]:
    return {path.relative_to(delivery).as_posix(): sha256_of(path) for path in delivery.rglob("*") if path.is_file()}


def swapped(pair: Pair) -> Pair:
    return Pair(pair.challenger_version, pair.champion_version, "")


def test_a_ready_report_of_the_current_pair_swaps_them_and_says_what_to_run_next(delivery, pair, tmp_path):
    # Given a ready shadow report of the delivery's champion and challenger
    reports = tmp_path / "shadow-report"
    write_report(reports, pair)
    champion, challenger = sha256_of(delivery / "sklearn.model"), sha256_of(delivery / "challenger/sklearn.model")
    # When the challenger is promoted
    said = promote("sklearn", delivery, reports, now=NOW)
    # Then the two files have changed places, and the note says how
    assert sha256_of(delivery / "sklearn.model") == challenger
    assert sha256_of(delivery / CHALLENGER_DIR / "sklearn.model") == champion
    assert not (delivery / "models.toml").exists()
    assert not (delivery / CHALLENGER_DIR / "models.toml").exists()
    note = json.loads((delivery / PROMOTION_FILE).read_text())["sklearn"]
    assert note == {
        "promoted_at": "2026-12-03T09:30:00Z",
        "evidence": "shadow report",
        "reason": "agreement 0.99 on 12,000 rows, kappa 0.98",
        "champion_version": pair.challenger_version,
        "previous_champion_version": pair.champion_version,
        "source_sha256": challenger,
        "shadow_report": {
            "champion_version": pair.champion_version,
            "challenger_version": pair.challenger_version,
            "verdict": "ready",
            "reason": "agreement 0.99 on 12,000 rows, kappa 0.98",
            "generated_at": "2026-12-02T18:00:00Z",
        },
    }
    assert said == (
        f"promoted sklearn: its challenger {pair.challenger_version} is now its champion and the champion "
        f"{pair.champion_version} its challenger (on the shadow report of 2026-12-02T18:00:00Z: agreement 0.99 on "
        f"12,000 rows, kappa 0.98); make promote MODEL=sklearn again goes back\n{NEXT_STEPS}"
    )


def test_the_next_build_serves_the_promoted_model_with_the_note_in_its_card(delivery, pair, tmp_path):
    # Given the challenger promoted on a ready report
    write_report(tmp_path / "reports", pair)
    promote("sklearn", delivery, tmp_path / "reports", now=NOW)
    # When the delivery is built
    out = tmp_path / "layer" / "models"
    built = build(delivery, out)
    # Then the champion is the promoted model, its card says how it was promoted, and the old champion challenges it
    assert built.manifest.models["sklearn"].sha256[:12] == pair.challenger_version
    assert built.manifest.challengers["sklearn"].sha256[:12] == pair.champion_version
    card = json.loads((out / "sklearn.model-card.json").read_text())
    jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER).validate(card)
    assert card["model_details"]["promotion"]["previous_champion_version"] == pair.champion_version
    assert "promotion" not in json.loads((out / "pytorch.model-card.json").read_text())["model_details"]
    assert (built.challengers["sklearn"].comparison.fixed, built.challengers["sklearn"].comparison.broken) == (0, 1)


def test_promoting_again_on_a_ready_report_of_the_swapped_pair_goes_back(delivery, pair, tmp_path):
    before = hashes(delivery)
    write_report(tmp_path / "reports", pair)
    promote("sklearn", delivery, tmp_path / "reports", now=NOW)
    write_report(tmp_path / "reports", swapped(pair))
    said = promote("sklearn", delivery, tmp_path / "reports", now=NOW)
    assert said.startswith(f"promoted sklearn: its challenger {pair.champion_version} is now its champion")
    after = hashes(delivery)
    assert after.pop(PROMOTION_FILE)
    assert after == before


def test_a_forced_promotion_needs_a_reason_and_keeps_the_overruled_report_in_its_note(delivery, pair, tmp_path):
    write_report(tmp_path / "reports", pair, verdict="not yet", reason="612 rows compared, 1,000 needed")
    said = promote("sklearn", delivery, tmp_path / "reports", force_reason=" the old model breaks on v2 sensors ")
    assert "(forced: the old model breaks on v2 sensors)" in said
    note = json.loads((delivery / PROMOTION_FILE).read_text())["sklearn"]
    assert (note["evidence"], note["reason"]) == ("forced", "the old model breaks on v2 sensors")
    assert note["shadow_report"]["verdict"] == "not yet"


def test_a_challenger_delivered_under_another_name_keeps_its_description_when_it_changes_places(tmp_path, pair):
    # Given a challenger delivered as forest.model, which the challenger folder's models.toml names
    delivery = with_challenger(tmp_path, sklearn=as_good())
    challengers = delivery / CHALLENGER_DIR
    (challengers / "sklearn.model").rename(challengers / "forest.model")
    (challengers / "models.toml").write_text('[sklearn]\nfile = "forest.model"\nformat = "sklearn-pickle"\n')
    # When it is promoted
    promote("sklearn", delivery, tmp_path / "reports", force_reason="its shadow ran on another stack")
    # Then the delivery's models.toml names it, the challenger folder needs none, and the delivery builds
    assert (
        (delivery / "models.toml")
        .read_text()
        .endswith('[sklearn]\nfile = "forest.model"\nformat = "sklearn-pickle"\noutput = "probabilities"\n')
    )
    assert not (challengers / "models.toml").exists()
    assert sorted(path.name for path in challengers.iterdir()) == ["sklearn.model"]
    built = build(delivery, tmp_path / "layer" / "models")
    assert built.manifest.models["sklearn"].source.file == "forest.model"
    assert built.manifest.models["sklearn"].sha256[:12] == pair.challenger_version


@pytest.mark.parametrize(
    ("report", "refusal"),
    [
        (None, r"^no shadow report of sklearn \(.*/sklearn.json\): run make shadow-report once"),
        ({"verdict": "not yet", "reason": "612 rows compared, 1,000 needed"}, r'says "not yet": 612 rows compared'),
        ({"verdict": "refused", "reason": "agreement 0.71"}, r'says "refused": agreement 0.71; promote when it says'),
        ({"challenger_version": "0123456789ab"}, r"compared challenger 0123456789ab with champion .*: deploy them"),
        ({"reason": 3}, r"is not a shadow report: it must name model, champion_version, challenger_version"),
    ],
)
def test_without_a_ready_report_of_the_current_pair_nothing_is_promoted(delivery, pair, tmp_path, report, refusal):
    reports = tmp_path / "reports"
    if report is not None:
        write_report(reports, pair, **report)
    before = hashes(delivery)
    with pytest.raises(PromotionError, match=refusal):
        promote("sklearn", delivery, reports)
    assert hashes(delivery) == before


@pytest.mark.parametrize(
    ("model", "reason", "refusal"),
    [
        ("sklearn", "  ", r'^FORCE=1 needs a REASON="\.\.\."'),
        ("xgboost", None, r"^MODEL must be one of sklearn, pytorch, not 'xgboost'"),
        ("pytorch", None, r"^pytorch has no challenger in .*/challenger: nothing to promote"),
    ],
)
def test_a_promotion_that_cannot_be_is_refused_before_anything_is_built(delivery, tmp_path, model, reason, refusal):
    before = hashes(delivery)
    with pytest.raises(PromotionError, match=refusal):
        promote(model, delivery, tmp_path / "reports", force_reason=reason)
    assert hashes(delivery) == before


def test_the_command_refuses_in_one_line_and_fails(delivery, tmp_path, capsys):
    status = main(["--model", "sklearn", "--artifacts", str(delivery), "--reports", str(tmp_path / "reports")])
    out, err = capsys.readouterr()
    assert (status, out) == (1, "")
    assert err.startswith("promote: no shadow report of sklearn")
    assert err.count("\n") == 1
