"""`make promote MODEL=<model>`: the model's challenger becomes its champion in the delivery, and the champion its
challenger, so that the same command goes back. Only when the latest shadow report of the model
(build/shadow-report/<model>.json) says "ready" of the current pair, or forced with a reason; either way a note in
the delivery (promotion.json) says how, and the next build puts it into the new champion's card."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kyber.errors import ModelArtifactError
from kyber.manifest import CHALLENGER_DIR
from model_build.challenger import PROMOTION_FILE, read_promotion_notes
from model_build.delivery import DEFAULTS, DESCRIPTOR_FILE, Delivered, read_delivery
from model_build.evaluation import EvaluationDataError
from model_build.gate import QualityGateError
from model_build.layer import ModelsLayerError, build

DEFAULT_ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
DEFAULT_REPORTS = Path(__file__).resolve().parents[3] / "build" / "shadow-report"
REPORT_FIELDS = ("model", "champion_version", "challenger_version", "verdict", "reason", "generated_at")
READY = "ready"
NEXT_STEPS = (
    "next: commit layers/models/artifacts, then ship it as any new model: make release STACK=<name> BUCKET=<bucket>"
    " (or make build and sam deploy; docs/deployment.md)"
)


class PromotionError(Exception):
    """The challenger may not be promoted (yet), or there is none."""


@dataclass(frozen=True)
class ShadowReport:
    """The verdict of make shadow-report on one model's challenger, from its online shadow."""

    model: str
    champion_version: str
    challenger_version: str
    verdict: str
    reason: str
    generated_at: str

    @classmethod
    def read(cls, path: Path) -> ShadowReport:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PromotionError(f"cannot read the shadow report {path}: {exc}") from None
        if not isinstance(document, dict) or not all(isinstance(document.get(key), str) for key in REPORT_FIELDS):
            raise PromotionError(f"{path} is not a shadow report: it must name {', '.join(REPORT_FIELDS)}")
        return cls(**{key: document[key] for key in REPORT_FIELDS})

    def note(self) -> dict[str, str]:
        return {key: getattr(self, key) for key in REPORT_FIELDS if key != "model"}


@dataclass(frozen=True)
class Pair:
    """A model's champion and challenger as the build derives their versions, and the challenger's source."""

    champion_version: str
    challenger_version: str
    challenger_source_sha256: str


def built_pair(artifacts: Path, model: str) -> Pair:
    """The delivery built as sam build builds it, in a scratch folder: a challenger that no longer passes the
    build's gates is not promoted, and the versions are those the service reports."""
    with tempfile.TemporaryDirectory(prefix="kyber-promote-") as scratch:
        manifest = build(artifacts, Path(scratch) / "models").manifest
    champion, challenger = manifest.models[model], manifest.challengers[model]
    return Pair(champion.sha256[:12], challenger.sha256[:12], challenger.source.sha256)


def shadow_evidence(reports: Path, model: str, pair: Pair) -> ShadowReport:
    """The model's latest shadow report, when it says ready of this very pair; otherwise a PromotionError saying
    what to do."""
    path = reports / f"{model}.json"
    if not path.exists():
        raise PromotionError(
            f"no shadow report of {model} ({path}): run make shadow-report once its challenger has shadowed enough "
            'requests, or promote with FORCE=1 REASON="..."'
        )
    report = ShadowReport.read(path)
    if report.model != model:
        raise PromotionError(f"{path} is the shadow report of {report.model}, not of {model}")
    if (report.champion_version, report.challenger_version) != (pair.champion_version, pair.challenger_version):
        raise PromotionError(
            f"the shadow report of {model} ({report.generated_at}) compared challenger {report.challenger_version} "
            f"with champion {report.champion_version}; the delivery's are {pair.challenger_version} and "
            f"{pair.champion_version}: deploy them and run make shadow-report again"
        )
    if report.verdict != READY:
        raise PromotionError(
            f'the shadow report of {model} ({report.generated_at}) says "{report.verdict}": {report.reason}; '
            f'promote when it says "{READY}", or with FORCE=1 REASON="..."'
        )
    return report


def promote(
    model: str,
    artifacts: Path = DEFAULT_ARTIFACTS,
    reports: Path = DEFAULT_REPORTS,
    force_reason: str | None = None,
    now: datetime | None = None,
) -> str:
    """Swap the model's champion and challenger in artifacts and note why; what was done and what to run next."""
    if model not in DEFAULTS:
        raise PromotionError(f"MODEL must be one of {', '.join(DEFAULTS)}, not {model!r}")
    if force_reason is not None and not force_reason.strip():
        raise PromotionError('FORCE=1 needs a REASON="...", written into the new champion\'s card')
    challengers = artifacts / CHALLENGER_DIR
    if not challengers.is_dir() or not (challengers / read_delivery(challengers)[model].file).is_file():
        raise PromotionError(f"{model} has no challenger in {challengers}: nothing to promote")
    pair = built_pair(artifacts, model)
    report: ShadowReport | None
    if force_reason is None:
        report = shadow_evidence(reports, model, pair)
        evidence, reason, how = "shadow report", report.reason, f"on the shadow report of {report.generated_at}"
    else:
        # Forced: the report, if there is one, is kept in the note as what was overruled.
        report = _readable_report(reports / f"{model}.json")
        evidence, reason, how = "forced", force_reason.strip(), "forced"
    swap(artifacts, model)
    promoted_at = (now or datetime.now(tz=UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    write_note(
        artifacts,
        model,
        {
            "promoted_at": promoted_at,
            "evidence": evidence,
            "reason": reason,
            "champion_version": pair.challenger_version,
            "previous_champion_version": pair.champion_version,
            "source_sha256": pair.challenger_source_sha256,
            "shadow_report": report.note() if report else None,
        },
    )
    return (
        f"promoted {model}: its challenger {pair.challenger_version} is now its champion and the champion "
        f"{pair.champion_version} its challenger ({how}: {reason}); make promote MODEL={model} again goes back\n"
        f"{NEXT_STEPS}"
    )


def _readable_report(path: Path) -> ShadowReport | None:
    try:
        return ShadowReport.read(path) if path.exists() else None
    except PromotionError:
        return None


def swap(artifacts: Path, model: str) -> None:
    """The model's file in artifacts and in its challenger folder swapped, each folder's models.toml saying what
    it now holds."""
    challengers = artifacts / CHALLENGER_DIR
    champion, challenger = read_delivery(artifacts)[model], read_delivery(challengers)[model]
    for folder, incoming, outgoing in ((artifacts, challenger, champion), (challengers, champion, challenger)):
        if incoming.file != outgoing.file and (folder / incoming.file).exists():
            raise PromotionError(f"{folder / incoming.file} exists: the {model} model moving there would replace it")
    held = artifacts / f".{champion.file}.promoting"
    (artifacts / champion.file).rename(held)
    (challengers / challenger.file).rename(artifacts / challenger.file)
    held.rename(challengers / champion.file)
    describe(artifacts, challenger)
    describe(challengers, champion)


def describe(folder: Path, delivered: Delivered) -> None:
    """Folder's models.toml with delivered's table: none when it is the default, no file when no table is left."""
    path = folder / DESCRIPTOR_FILE
    tables: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    tables.pop(delivered.name, None)
    if delivered != DEFAULTS[delivered.name]:
        tables[delivered.name] = {"file": delivered.file, "format": delivered.format, "output": delivered.output}
    if not tables:
        path.unlink(missing_ok=True)
        return
    lines = ["# What each served model is (docs/models.md); written by make promote."]
    for name, table in tables.items():
        lines += ["", f"[{name}]", *(f"{key} = {json.dumps(value)}" for key, value in table.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_note(artifacts: Path, model: str, note: dict[str, Any]) -> None:
    notes = read_promotion_notes(artifacts)
    notes[model] = note
    (artifacts / PROMOTION_FILE).write_text(json.dumps(notes, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make promote", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the served model whose challenger to promote")
    parser.add_argument("--force-reason", help="promote without a ready shadow report, for this reason")
    parser.add_argument("--artifacts", type=Path, default=DEFAULT_ARTIFACTS, help="the delivery")
    parser.add_argument("--reports", type=Path, default=DEFAULT_REPORTS, help="make shadow-report's folder")
    args = parser.parse_args(argv)
    try:
        print(promote(args.model, args.artifacts, args.reports, args.force_reason))
    except (PromotionError, ModelsLayerError, ModelArtifactError, EvaluationDataError, QualityGateError) as exc:
        print(f"promote: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
