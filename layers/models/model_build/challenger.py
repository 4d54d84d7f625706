"""The challengers of a delivery: candidates in its challenger/ folder, each built beside the served model it may
replace through the same stages (export, parity, quality and serving-cost gates, card), then compared with it on
the same evaluation rows and held to the challenger gate; its card says how it compared. And the other way round,
a champion's card says how it was promoted (the note make promote leaves in the delivery)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kyber.manifest import CHALLENGER_DIR, FileRef, ModelEntry, sha256_of
from model_build.card import card_json, with_comparison, with_promotion
from model_build.compare import Comparison, OfflineRule, check_distinct, compare
from model_build.compile import Assessment, EvaluationSetup, Served, compile_model
from model_build.contract import ModelContractError, ModelsLayerError
from model_build.delivery import read_delivery
from model_build.export import onnx_session
from model_build.figures import flip_table_png
from model_build.gate import QualityGateError
from model_build.load import LOADERS, NativeModel

# Written by make promote beside the models: per model, how its champion was promoted.
PROMOTION_FILE = "promotion.json"


@dataclass(frozen=True)
class ChallengerBuild:
    """A built challenger: its manifest entry (paths under challenger/), what the build measured of it, and how it
    compared with its champion."""

    entry: ModelEntry
    assessment: Assessment
    comparison: Comparison


def delivered_challengers(source: Path, labels: tuple[str, ...]) -> list[NativeModel]:
    """The models in source's challenger folder (none without one), each as its models.toml or the defaults say it
    is, loaded and checked against the contract like the champions; a folder that holds no model is refused."""
    folder = source / CHALLENGER_DIR
    if not folder.is_dir():
        return []
    present = [delivered for delivered in read_delivery(folder).values() if (folder / delivered.file).is_file()]
    if not present:
        expected = ", ".join(delivered.file for delivered in read_delivery(folder).values())
        raise ModelContractError(f"{CHALLENGER_DIR}/ holds no model: deliver {expected} there, or remove the folder")
    models = []
    for delivered in present:
        with named_challenger(delivered.file):
            models.append(LOADERS[delivered.format](delivered, folder / delivered.file, labels))
    return models


@contextmanager
def named_challenger(file: str) -> Iterator[None]:
    """A stage's refusal of a challenger, said of its file in challenger/: the champion's would read the same."""
    try:
        yield
    except (ModelsLayerError, QualityGateError) as exc:
        raise type(exc)(f"{CHALLENGER_DIR}/{file}: {exc}") from exc


def served_scores(folder: Path, entry: ModelEntry, features: np.ndarray) -> np.ndarray:
    """The scores of a built model's ONNX file for features, as the service computes them."""
    description = {
        "input_name": entry.input_name,
        "input_dtype": entry.input_dtype,
        "probabilities_output": entry.probabilities_output,
    }
    path = folder / entry.file
    return Served(path, onnx_session(path), description).scores(features)[1]


def compile_challengers(
    models: list[NativeModel],
    staging: Path,
    probe: np.ndarray,
    labels: tuple[str, ...],
    setup: EvaluationSetup,
    champions: Mapping[str, ModelEntry],
    rule: OfflineRule,
) -> dict[str, ChallengerBuild]:
    """Each challenger built into staging/challenger/ and compared with its champion built in staging; the first
    that a gate refuses raises, naming it."""
    (staging / CHALLENGER_DIR).mkdir(exist_ok=True)
    return {
        model.name: compile_challenger(model, staging, probe, labels, setup, champions[model.name], rule)
        for model in models
    }


def compile_challenger(
    model: NativeModel,
    staging: Path,
    probe: np.ndarray,
    labels: tuple[str, ...],
    setup: EvaluationSetup,
    champion: ModelEntry,
    rule: OfflineRule,
) -> ChallengerBuild:
    with named_challenger(model.source.name):
        entry, assessment = compile_model(model, staging / CHALLENGER_DIR, probe, labels, setup)
    card_file = f"{CHALLENGER_DIR}/{entry.card.file}"
    entry = dataclasses.replace(entry, file=f"{CHALLENGER_DIR}/{entry.file}", card=FileRef(card_file, ""))
    check_distinct(model.name, champion, entry)
    features = setup.data.features
    comparison = compare(
        model.name,
        setup.data.target,
        labels,
        (champion.sha256[:12], served_scores(staging, champion, features)),
        (entry.sha256[:12], served_scores(staging, entry, features)),
        rule,
    )
    rule.check(comparison)
    card = with_comparison(read_card(staging / card_file), comparison, rule, flip_table_png(comparison))
    entry = dataclasses.replace(entry, card=rewrite_card(staging, card_file, card))
    return ChallengerBuild(entry, assessment, comparison)


def read_card(path: Path) -> dict[str, Any]:
    card: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return card


def rewrite_card(staging: Path, file: str, card: dict[str, Any]) -> FileRef:
    """The card written again as file in staging (a build's own, amended); its ref for the manifest."""
    path = staging / file
    path.write_text(card_json(card), encoding="utf-8")
    return FileRef(file, sha256_of(path))


def read_promotion_notes(source: Path) -> dict[str, dict[str, Any]]:
    """The delivery's promotion notes by model (none without the file); a file that is not a JSON object of
    objects each naming its model's source_sha256 is refused."""
    path = source / PROMOTION_FILE
    if not path.exists():
        return {}
    try:
        notes = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelContractError(f"cannot read {PROMOTION_FILE}: {exc}") from None
    if not isinstance(notes, dict) or not all(
        isinstance(note, dict) and isinstance(note.get("source_sha256"), str) for note in notes.values()
    ):
        raise ModelContractError(f"{PROMOTION_FILE} must hold an object per model, each with its source_sha256")
    return notes


def with_promotion_notes(source: Path, staging: Path, entries: dict[str, ModelEntry]) -> dict[str, ModelEntry]:
    """The champions' entries, each whose source is the one its promotion note names with that note in its card;
    a note of another source (the model was replaced since) is no longer about the champion and is left out."""
    noted = dict(entries)
    for name, note in read_promotion_notes(source).items():
        entry = entries.get(name)
        if entry is not None and note["source_sha256"] == entry.source.sha256:
            card = with_promotion(read_card(staging / entry.card.file), note)
            noted[name] = dataclasses.replace(entry, card=rewrite_card(staging, entry.card.file, card))
    return noted
