"""`make drift CAPTURE=<folder or s3://bucket/prefix>`: the drift report of captured requests.

Usage: python -m scripts.drift --capture LOCATION [--reference CSV] [--out FOLDER] (in .venv-drift)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scripts.drift.capture import CaptureError, read_capture
from scripts.drift.report import REPORT_FILE, drift_report, training_rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Evidently's drift report of captured requests")
    parser.add_argument("--capture", required=True, help="a folder of capture files, or s3://bucket/prefix")
    parser.add_argument("--reference", type=Path, help="the training rows as CSV (default: scikit-learn's Iris)")
    parser.add_argument("--out", type=Path, default=Path("build/drift-report"), help="the report's folder")
    args = parser.parse_args(argv)
    try:
        current = read_capture(args.capture)
        reference = training_rows(args.reference)
    except (CaptureError, ValueError, OSError) as error:
        print(f"drift: {error}", file=sys.stderr)
        return 1
    verdict = drift_report(current, reference, args.out)
    print("\n".join(verdict.lines()))
    rows = f"{verdict.current_rows} captured rows against {verdict.reference_rows} training rows"
    print(f"{rows}: {args.out / REPORT_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
