"""`make shadow-report`: per model, how its challenger did in the champion's shadow, and the verdict file.

Usage: python -m scripts.shadow --capture LOCATION [--out FOLDER] [--gate TOML]
       python -m scripts.shadow --since 2026-12-01T10:00:00Z [--until ...] [--region REGION] [--models FOLDER] ...
(--capture: a folder of capture files, or s3://bucket/prefix; without it, the shadow's metrics in CloudWatch over the
window, for the challengers of the built models layer's manifest.)
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kyber.errors import ModelArtifactError
from kyber.manifest import read_manifest
from model_build.compare import CHALLENGER_GATE_FILE
from scripts.drift.capture import CaptureError
from scripts.project import built_models, metrics_namespace, service_name
from scripts.shadow.figures import ShadowFigures
from scripts.shadow.sources import MetricsWindow, ShadowSourceError, from_captures, from_cloudwatch
from scripts.shadow.verdict import OnlineRule, OnlineRuleError, report_lines, verdict_document, write_verdict

DEFAULT_OUT = Path("build/shadow-report")


def moment(text: str) -> datetime:
    """An RFC 3339 time (Z or an offset), or a number of hours before now ("24h")."""
    if text.endswith("h") and text[:-1].isdigit():
        return datetime.now(UTC) - timedelta(hours=int(text[:-1]))
    try:
        found = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither an RFC 3339 time nor hours ago such as 24h") from None
    if found.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone: end it with Z or an offset")
    return found.astimezone(UTC)


def figures_of(args: argparse.Namespace) -> list[ShadowFigures]:
    if args.capture:
        return from_captures(args.capture)
    import boto3

    window = MetricsWindow(metrics_namespace(), service_name(), args.since, args.until or datetime.now(UTC))
    return from_cloudwatch(boto3.client("cloudwatch", region_name=args.region), window, read_manifest(args.models))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="how each challenger did in its champion's shadow, and its verdict")
    parser.add_argument("--capture", help="a folder of capture files, or s3://bucket/prefix (default: CloudWatch)")
    parser.add_argument("--since", type=moment, default=moment("24h"), help="CloudWatch: from (RFC 3339, or 24h)")
    parser.add_argument("--until", type=moment, help="CloudWatch: until (default: now)")
    parser.add_argument("--region", help="CloudWatch: the stack's region (default: the AWS configuration's)")
    parser.add_argument("--models", type=Path, default=built_models(), help="CloudWatch: the models layer deployed")
    parser.add_argument("--gate", type=Path, default=CHALLENGER_GATE_FILE, help="the gate file with [online]")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the verdict files go")
    args = parser.parse_args(argv)
    try:
        rule = OnlineRule.read(args.gate)
        found = figures_of(args)
    except (CaptureError, ShadowSourceError, OnlineRuleError, ModelArtifactError) as error:
        print(f"shadow-report: {error}", file=sys.stderr)
        return 1
    for figures in found:
        document = verdict_document(figures, rule)
        print("\n".join(report_lines(figures, document)))
        print(f"  verdict file: {write_verdict(document, args.out)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
