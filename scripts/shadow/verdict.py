"""The verdict on a challenger's shadow: challenger_gate.toml's [online] thresholds, the verdict they give the
figures ("ready", "not yet" or "refused", with its one-line reason), and the verdict file `make promote` reads."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from model_build.compare import CHALLENGER_GATE_FILE
from model_build.gate import read_thresholds
from scripts.shadow.figures import ShadowFigures

ONLINE_KEYS = (
    "min_rows",
    "min_agreement",
    "min_kappa",
    "max_label_divergence",
    "max_score_divergence",
    "max_error_rate",
)
READY, NOT_YET, REFUSED = "ready", "not yet", "refused"


class OnlineRuleError(ValueError):
    """challenger_gate.toml's [online] table is missing or holds other thresholds."""


@dataclass(frozen=True)
class OnlineRule:
    min_rows: int
    min_agreement: float
    min_kappa: float
    max_label_divergence: float
    max_score_divergence: float
    max_error_rate: float

    @classmethod
    def read(cls, path: Path = CHALLENGER_GATE_FILE) -> OnlineRule:
        document = read_thresholds(
            path, ONLINE_KEYS, "challenger gate", lambda value: value >= 0, "a number from 0", OnlineRuleError, "online"
        )
        if not float(document["min_rows"]).is_integer() or document["min_rows"] < 1:
            raise OnlineRuleError(
                f"{path} [online]: min_rows must be a whole number from 1, not {document['min_rows']}"
            )
        for key in ONLINE_KEYS[1:]:
            if document[key] > 1:
                raise OnlineRuleError(f"{path} [online]: {key} must be a number from 0 to 1, not {document[key]}")
        return cls(int(document["min_rows"]), *(float(document[key]) for key in ONLINE_KEYS[1:]))

    def verdict(self, figures: ShadowFigures) -> tuple[str, str]:
        """The verdict and its reason: not yet below min_rows, refused for the first threshold missed, else ready."""
        if figures.rows < self.min_rows:
            return NOT_YET, f"{figures.rows:,} of {self.min_rows:,} rows compared"
        tried = figures.requests + figures.errors
        checks = [
            ("agreement", figures.agreement, self.min_agreement, "below"),
            ("kappa", figures.kappa, self.min_kappa, "below"),
            ("label distance", figures.label_divergence, self.max_label_divergence, "above"),
            ("top-score distance", figures.score_divergence, self.max_score_divergence, "above"),
            ("error rate", figures.errors / tried if tried else 0.0, self.max_error_rate, "above"),
        ]
        for name, value, threshold, side in checks:
            if name == "top-score distance" and math.isnan(value):
                continue  # CloudWatch holds no scores
            missed = not value >= threshold if side == "below" else not value <= threshold
            if missed:
                return REFUSED, f"{name} {value:.2f} {side} {threshold:.2f}"
        return READY, f"{figures.rows:,} rows compared, every [online] threshold met"


def _number(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(value, 6)


def verdict_document(figures: ShadowFigures, rule: OnlineRule, now: datetime | None = None) -> dict[str, Any]:
    verdict, reason = rule.verdict(figures)
    generated = (now or datetime.now(UTC)).isoformat(timespec="seconds").replace("+00:00", "Z")
    return {
        "model": figures.model,
        "champion_version": figures.champion_version,
        "challenger_version": figures.challenger_version,
        "verdict": verdict,
        "reason": reason,
        "generated_at": generated,
        "source": figures.source,
        "requests": figures.requests,
        "errors": figures.errors,
        "skipped": figures.skipped,
        "rows": figures.rows,
        "agreement": _number(figures.agreement),
        "kappa": _number(figures.kappa),
        "label_divergence": _number(figures.label_divergence),
        "score_divergence": _number(figures.score_divergence),
        "added_ms_p50": _number(figures.added_ms[0]),
        "added_ms_p99": _number(figures.added_ms[1]),
        "labels": list(figures.labels),
        "pairs": figures.pairs.tolist(),
        "flips": figures.flips(),
        "thresholds": {key: getattr(rule, key) for key in ONLINE_KEYS},
    }


def write_verdict(document: dict[str, Any], out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{document['model']}.json"
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def _shown(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def report_lines(figures: ShadowFigures, document: dict[str, Any]) -> list[str]:
    """The report of one model, as printed."""
    verdict = {READY: "ready to promote", NOT_YET: "not yet", REFUSED: "refused"}[document["verdict"]]
    p50, p99 = document["added_ms_p50"], document["added_ms_p99"]
    width = max(len(label) for label in figures.labels)
    lines = [
        f"{figures.model}: champion {figures.champion_version}, challenger {figures.challenger_version}"
        f" ({figures.source})",
        f"  requests compared {figures.requests:,} (errors {figures.errors:,}, skipped {figures.skipped:,}),"
        f" rows compared {figures.rows:,}",
        f"  agreement {_shown(document['agreement'])}, Cohen's kappa {_shown(document['kappa'])}",
        f"  Jensen-Shannon distance: labels {_shown(document['label_divergence'])},"
        f" top scores {_shown(document['score_divergence'])}",
        f"  added time: p50 {_shown(p50, 2)} ms, p99 {_shown(p99, 2)} ms",
        f"  rows by champion label (down) and challenger label (across): {' '.join(figures.labels)}",
    ]
    for label, row in zip(figures.labels, figures.pairs.tolist(), strict=True):
        lines.append(
            f"    {label:<{width}} "
            + " ".join(f"{count:>{max(len(name), 6)},}" for count, name in zip(row, figures.labels, strict=True))
        )
    lines.append(f"  verdict: {verdict}" + ("" if document["verdict"] == READY else f": {document['reason']}"))
    return lines
