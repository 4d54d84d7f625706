"""The models report (`make report`): both models built as `sam build` builds them, measured on evaluation.csv,
side by side in one HTML page with its figures as PNG files beside it, and each challenger against its champion.
A build output, never deployed."""

from __future__ import annotations

import argparse
import html
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from kyber.manifest import Manifest, ModelEntry
from model_build.compare import OfflineRule
from model_build.evaluation import EVALUATION_FILE, EvaluationDataError, LabelMetrics
from model_build.figures import confusion_matrix_png, flip_table_png, parity_png
from model_build.gate import QualityGate, QualityGateError
from model_build.layer import Assessment, ChallengerBuild, LayerBuild, ModelsLayerError, build

DEFAULT_SOURCE = Path(__file__).resolve().parent.parent / "artifacts"
STYLE = """
body { font-family: sans-serif; margin: 2em; max-width: 72em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.side-by-side { display: flex; gap: 2em; flex-wrap: wrap; }
figure { margin: 0; max-width: 26em; }
figcaption { font-size: 0.9em; color: #444; }
"""
CAPTIONS = {
    "confusion-matrix": "Confusion matrix of {model} on {rows} evaluation rows: row = true label, column = predicted "
    "label; everything off the diagonal is a crystal named wrongly.",
    "calibration": "Calibration curve of {model}: rows grouped by their highest score; a point below the dotted "
    "diagonal means the model is more confident than it is right. ECE is the rows-weighted mean gap.",
    "parity": "Parity of {model}: per row, the largest difference between a score of the served ONNX file and the "
    "native model's, over the probe rows and the evaluation rows; the dashed line is the build's tolerance.",
}
CHALLENGER_CAPTIONS = {
    "confusion-matrix": "Confusion matrix of {model}'s champion ({champion}) on {rows} evaluation rows.",
    "challenger-confusion-matrix": "Confusion matrix of {model}'s challenger ({challenger}) on the same rows.",
    "flips": "Flip table of {model}: per true label, the rows both models name right, only the challenger (fixed), "
    "only the champion (broken), and neither; only the flips are coloured.",
}
FIGURE_SECTIONS = {"confusion-matrix": "Confusion matrices", "calibration": "Calibration", "parity": "Parity"}
FIGURE_NAMES = {"confusion-matrix": "Confusion matrix", "calibration": "Calibration curve"}


def _cells(values: Iterable[object], tag: str = "td") -> str:
    return "".join(f"<{tag}>{html.escape(str(value))}</{tag}>" for value in values)


def _table(header: list[str], rows: list[list[object]]) -> str:
    body = "".join(f"<tr>{_cells(row)}</tr>" for row in rows)
    return f"<table><tr>{_cells(header, 'th')}</tr>{body}</table>"


def _overall_rows(build: LayerBuild) -> list[list[object]]:
    models = list(build.manifest.models)

    def row(name: str, value: Callable[[ModelEntry, Assessment], object]) -> list[object]:
        return [name, *(value(build.manifest.models[model], build.assessments[model]) for model in models)]

    return [
        row("served file", lambda entry, _: f"{entry.file} ({entry.sha256[:12]})"),
        row("accuracy", lambda _, a: f"{a.metrics.accuracy:.4f}"),
        row("balanced accuracy", lambda _, a: f"{a.metrics.balanced_accuracy:.4f}"),
        row("lowest per-label recall", lambda _, a: _recall(a.metrics.lowest_recall)),
        row("log loss", lambda _, a: f"{a.metrics.log_loss:.4f}"),
        row("macro F1", lambda _, a: f"{a.metrics.macro.f1:.4f}"),
        row("weighted F1", lambda _, a: f"{a.metrics.weighted.f1:.4f}"),
        row("expected calibration error", lambda _, a: f"{a.metrics.expected_calibration_error:.4f}"),
        row("parity, max |Δp| on evaluation rows", lambda _, a: _largest(a.evaluation_differences)),
        row("parity, max |Δp| on probe rows", lambda _, a: _largest(a.probe_differences)),
        row("ONNX file", lambda _, a: f"{a.cost.onnx_bytes:,} B"),
        row("session load (best of 3)", lambda _, a: f"{a.cost.load_ms:.1f} ms"),
        row("memory added", lambda _, a: f"{a.cost.memory_added_bytes / 2**20:.1f} MB"),
        row("one row (best of 50)", lambda _, a: f"{a.cost.one_row_ms:.3f} ms"),
        row("10,000 rows (best of 5)", lambda _, a: f"{a.cost.rows_10000_ms:.1f} ms"),
    ]


def _largest(differences: np.ndarray) -> str:
    return f"{differences.max():.2e}" if differences.size else "not compared: delivered as ONNX"


def _recall(label: LabelMetrics) -> str:
    return f"{label.recall:.4f} ({label.label})"


def _label_table(per_label: tuple[LabelMetrics, ...], averages: tuple[LabelMetrics, ...]) -> str:
    rows: list[list[object]] = [
        [label.label, f"{label.precision:.4f}", f"{label.recall:.4f}", f"{label.f1:.4f}", label.support]
        for label in (*per_label, *averages)
    ]
    return _table(["label", "precision", "recall", "F1", "support"], rows)


def _model_labels(model: str, assessment: Assessment) -> str:
    metrics = assessment.metrics
    return (
        f"<div><h3>{html.escape(model)}</h3>{_label_table(metrics.per_label, (metrics.macro, metrics.weighted))}</div>"
    )


def _figure(path: Path, caption: str) -> str:
    alt = html.escape(caption.split(":")[0])
    return (
        f'<figure><img src="{html.escape(path.name)}" alt="{alt}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def write_figures(build: LayerBuild, out: Path) -> dict[str, list[str]]:
    """Each model's figures as PNG files in out; the HTML of each kind of figure, one per model."""
    kinds: dict[str, list[str]] = {kind: [] for kind in CAPTIONS}
    for model, assessment in build.assessments.items():
        entry = build.manifest.models[model]
        differences = np.concatenate([assessment.probe_differences, assessment.evaluation_differences])
        pngs = {kind: assessment.graphics[name] for kind, name in FIGURE_NAMES.items()}
        if differences.size:
            pngs["parity"] = parity_png(model, differences, entry.parity.tolerance)
        for kind, png in pngs.items():
            path = out / f"{model}-{kind}.png"
            path.write_bytes(png)
            caption = CAPTIONS[kind].format(model=model, rows=assessment.metrics.rows)
            kinds[kind].append(_figure(path, caption))
    return kinds


def write_challenger_figures(build: LayerBuild, out: Path) -> dict[str, list[str]]:
    """Per challenger, its champion's confusion matrix (written by write_figures), its own and the flip table."""
    figures = {}
    for model, challenger in build.challengers.items():
        comparison = challenger.comparison
        matrix = confusion_matrix_png("challenger", build.manifest.labels, challenger.assessment.metrics)
        (out / f"{model}-challenger-confusion-matrix.png").write_bytes(matrix)
        (out / f"{model}-flips.png").write_bytes(flip_table_png(comparison))
        versions = {"champion": comparison.champion.version, "challenger": comparison.challenger.version}
        figures[model] = [
            _figure(out / f"{model}-{kind}.png", caption.format(model=model, rows=comparison.rows, **versions))
            for kind, caption in CHALLENGER_CAPTIONS.items()
        ]
    return figures


def _challenger_section(model: str, challenger: ChallengerBuild, rule: OfflineRule, figures: list[str]) -> list[str]:
    comparison = challenger.comparison
    champion, candidate, interval = comparison.champion, comparison.challenger, comparison.interval
    standing: list[list[object]] = [
        ["version", champion.version, candidate.version],
        ["accuracy", f"{champion.accuracy:.4f}", f"{candidate.accuracy:.4f}"],
        [
            "lowest per-label recall",
            f"{champion.lowest_recall:.4f} ({champion.lowest_recall_label})",
            f"{candidate.lowest_recall:.4f} ({candidate.lowest_recall_label})",
        ],
        ["log loss", f"{champion.log_loss:.4f}", f"{candidate.log_loss:.4f}"],
    ]
    flips = [[f.label, f.both_right, f.fixed, f.broken, f.both_wrong] for f in comparison.flips]
    return [
        f"<h3>{html.escape(model)}</h3>",
        _table(["", "champion", "challenger"], standing),
        f"<p>Accuracy difference (challenger minus champion) {comparison.accuracy_difference:+.4f}, "
        f"{interval.confidence:.0%} bootstrap interval {interval.lower:+.4f} to {interval.upper:+.4f} "
        f"({interval.resamples:,} resamples of the {comparison.rows} rows, seed {interval.seed}); "
        f"{comparison.fixed} fixed, {comparison.broken} broken, McNemar exact p {comparison.mcnemar_p:.3f}; "
        f"{comparison.disagreements} rows named differently. The challenger gate (<code>{rule.source.name}</code>) "
        f"lets a challenger through whose interval's lower bound is at least -{rule.margin:.2f}: this one's is "
        f"{interval.lower:+.4f}.</p>",
        _table(["true label", "both right", "fixed", "broken", "both wrong"], flips),
        '<div class="side-by-side">',
        *figures,
        "</div>",
    ]


def page(
    build: LayerBuild,
    gate: QualityGate,
    source: Path,
    figures: dict[str, list[str]],
    challenger_figures: dict[str, list[str]] | None = None,
) -> str:
    manifest: Manifest = build.manifest
    first = next(iter(build.manifest.models.values())).evaluation
    sections = [
        f"<h1>Kyber crystal models: {' and '.join(manifest.models)}</h1>",
        f"<p>Built from <code>{html.escape(str(source))}</code>, measured through each served ONNX file in "
        f"ONNX Runtime on <code>{EVALUATION_FILE}</code> ({first.rows} rows, sha256 {first.data_sha256[:12]}). "
        f"Quality gate (<code>{gate.source.name}</code>): accuracy at least {gate.min_accuracy:.2f}, lowest "
        f"per-label recall at least {gate.min_lowest_recall:.2f}; both models pass, or there would be no report.</p>",
        "<h2>Overall</h2>",
        _table(["", *manifest.models], _overall_rows(build)),
        "<h2>Per label</h2>",
        '<div class="side-by-side">',
        *(_model_labels(model, assessment) for model, assessment in build.assessments.items()),
        "</div>",
    ]
    for kind, title in FIGURE_SECTIONS.items():
        sections += [f"<h2>{title}</h2>", '<div class="side-by-side">', *figures[kind], "</div>"]
    if build.challengers:
        rule = OfflineRule.read()
        sections.append("<h2>Champion and challenger</h2>")
        for model, challenger in build.challengers.items():
            sections += _challenger_section(model, challenger, rule, (challenger_figures or {})[model])
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Kyber models report</title>'
        f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )


def write_report(source: Path, out: Path) -> Path:
    """Build source's models into a scratch folder, measure them, and write out/index.html with its figures."""
    gate = QualityGate.read()
    with tempfile.TemporaryDirectory(prefix="kyber-report-") as scratch:
        built = build(source, Path(scratch) / "models", gate=gate)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    figures = write_figures(built, out)
    challenger_figures = write_challenger_figures(built, out)
    index = out / "index.html"
    index.write_text(page(built, gate, source, figures, challenger_figures), encoding="utf-8")
    return index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="folder with the native artifacts")
    parser.add_argument("--out", type=Path, required=True, help="folder to write index.html and its figures into")
    args = parser.parse_args(argv)
    try:
        index = write_report(args.source, args.out)
    except (ModelsLayerError, EvaluationDataError, QualityGateError, ValueError, OSError) as exc:
        print(f"model_report: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {index}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
