"""`python -m model_build --source DIR --out DIR`: the models layer built, its summary printed; one line on
stderr and exit status 1 when a stage refuses the delivery."""

from __future__ import annotations

import argparse
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
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        built = build(args.source, args.out, args.probe_rows, args.evaluation)
    except (ModelsLayerError, ModelArtifactError, EvaluationDataError, QualityGateError, ValueError, OSError) as exc:
        print(f"model_build: {exc}", file=sys.stderr)
        return 1
    print(summary(built, args.out, time.perf_counter() - started))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
