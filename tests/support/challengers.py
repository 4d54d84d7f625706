"""A models layer with challengers, laid out as the build lays them out: the champion's layer, with another build's
model as the challenger of each named model (challenger/<name>.onnx and its card, in the manifest's challengers)."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kyber.manifest import CHALLENGER_DIR, MANIFEST_FILE, FileRef, read_manifest


def with_challengers(champion: Path, candidate: Path, out: Path, models: Iterable[str]) -> Path:
    """out: the champion's layer, with candidate's models (another built layer) as the challengers of models."""
    shutil.copytree(champion, out)
    (out / CHALLENGER_DIR).mkdir()
    manifest, candidates = read_manifest(champion), read_manifest(candidate)
    challengers = {}
    for name in models:
        entry = candidates.models[name]
        onnx, card = f"{CHALLENGER_DIR}/{name}.onnx", f"{CHALLENGER_DIR}/{name}.model-card.json"
        shutil.copyfile(candidate / entry.file, out / onnx)
        shutil.copyfile(candidate / entry.card.file, out / card)
        challengers[name] = dataclasses.replace(entry, file=onnx, card=FileRef(card, entry.card.sha256))
    with_them = dataclasses.replace(manifest, challengers=challengers)
    (out / MANIFEST_FILE).write_text(with_them.to_json(), encoding="utf-8")
    return out


def challengers_scoring_with(scorer: Any, session: object) -> None:
    """Every challenger of a function's scorer scoring with session (a fake) from now on: its shadows are changed in
    place, as both faces hold the scorer itself."""
    for name, shadow in scorer.shadows.items():
        challenger = dataclasses.replace(shadow.challenger, session=session)
        scorer.shadows[name] = dataclasses.replace(shadow, challenger=challenger)


def champions_scoring_with(scorer: Any, session: object) -> None:
    """Every model of a function's scorer scoring with session (a fake) from now on, changed in place."""
    for name, model in scorer.models.items():
        scorer.models[name] = dataclasses.replace(model, session=session)
