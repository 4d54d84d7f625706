"""`python -m model_build --source DIR --out DIR [--cost-record FILE]`: the models layer built, its summary
printed, and every serving-cost figure it measured written to FILE (JSON, outside the layer); one line on stderr and
exit status 1 when a stage refuses the delivery."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from kyber.errors import ModelArtifactError
from model_build.evaluation import EVALUATION_FILE, EvaluationDataError
from model_build.gate import QualityGateError
from model_build.layer import LayerBuild, ModelsLayerError, build
from model_build.parity import DEFAULT_PROBE_ROWS


def summary(built: LayerBuild, out: Path, seconds: float) -> str:
    manifest = built.manifest
    lines = [f"models layer in {out} ({seconds:.1f} s), labels {list(manifest.labels)}"]
    for name, model in manifest.models.items():
        parity, evaluation = model.parity, model.evaluation
        size = (out / model.file).stat().st_size
        lines.append(
            f"  {name:8} {model.file:13} {size:>7,} B  sha256 {model.sha256[:12]}  "
            f"parity on {parity.rows:,} rows: max |dp| {parity.max_abs_diff:.2e}, argmax identical\n"
            f"  {'':8} {EVALUATION_FILE} ({evaluation.rows} rows): accuracy {evaluation.accuracy:.4f}, "
            f"lowest recall {evaluation.lowest_recall:.4f}, log loss {evaluation.log_loss:.4f}; "
            f"card {model.card.file}\n"
            f"  {'':8} {built.assessments[name].cost.summary()}"
        )
    for name, challenger in built.challengers.items():
        entry = challenger.entry
        lines.append(
            f"  {name:8} challenger {entry.file} sha256 {entry.sha256[:12]}, through the same gates; "
            f"card {entry.card.file}\n"
            f"  {'':8} {challenger.comparison.summary()}\n"
            f"  {'':8} {challenger.assessment.cost.summary()}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model_build", description="Build the models layer.")
    parser.add_argument("--source", type=Path, required=True, help="folder with the native artifacts")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the layer's models into")
    parser.add_argument("--probe-rows", type=int, default=DEFAULT_PROBE_ROWS, help="random rows for the parity check")
    parser.add_argument("--evaluation", type=Path, help=f"evaluation data (default: SOURCE/{EVALUATION_FILE})")
    parser.add_argument("--cost-record", type=Path, help="file to write every measured serving-cost figure to (JSON)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        built = build(args.source, args.out, args.probe_rows, args.evaluation)
    except (ModelsLayerError, ModelArtifactError, EvaluationDataError, QualityGateError, ValueError, OSError) as exc:
        print(f"model_build: {exc}", file=sys.stderr)
        return 1
    print(summary(built, args.out, time.perf_counter() - started))
    if args.cost_record:
        args.cost_record.parent.mkdir(parents=True, exist_ok=True)
        args.cost_record.write_text(json.dumps(built.cost_record(), indent=2) + "\n", encoding="utf-8")
        print(f"serving-cost record: {args.cost_record}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
