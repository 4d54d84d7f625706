"""`python -m scripts.release release|releases|rollback`: what `make release`, `make releases` and `make rollback`
run. Exit status 1, with one line naming the step and why, when a step fails; 2 when the stack cannot be read."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from scripts.release.aws import Aws, StackError, read_stack
from scripts.release.deploy import SubprocessRunner
from scripts.release.history import history_lines
from scripts.release.steps import (
    ARTIFACTS,
    DEFAULT_PREFIX,
    ReleaseRequest,
    RollbackRequest,
    StepError,
    Tools,
    release,
    rollback,
)


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scripts.release", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, summary in (
        ("release", "build, gate, upload, deploy and smoke-check the models in --source"),
        ("releases", "each function's versions, the release each serves, where live points, how deployments ended"),
        ("rollback", "stop a deployment under way, deploy an earlier release, smoke-check"),
    ):
        command = commands.add_parser(name, help=summary)
        command.add_argument("--stack", required=True)
        command.add_argument("--region", help="the stack's region (default: the AWS configuration's)")
        if name != "releases":
            command.add_argument("--dry-run", action="store_true", help="print the plan; change nothing")
    commands.choices["release"].add_argument("--bucket", required=True, help="the S3 bucket releases are kept in")
    commands.choices["release"].add_argument("--prefix", default=DEFAULT_PREFIX, help="the folder of releases in it")
    commands.choices["release"].add_argument("--source", type=Path, default=ARTIFACTS, help="the ML team's delivery")
    commands.choices["rollback"].add_argument(
        "--to", help="a release (s3://... or 12+ hex digits of its name), `layer`, or a version number"
    )
    return parser


def run(argv: Sequence[str] | None, tools: Tools) -> int:
    """The command in argv, acting through tools."""
    arguments = parser().parse_args(argv)
    try:
        if arguments.command == "releases":
            for line in history_lines(tools.aws, read_stack(tools.aws, arguments.stack)):
                tools.out(line)
        elif arguments.command == "release":
            request = ReleaseRequest(
                arguments.stack,
                arguments.bucket,
                arguments.prefix,
                arguments.region,
                arguments.source,
                arguments.dry_run,
            )
            release(tools, request)
        else:
            rollback(tools, RollbackRequest(arguments.stack, arguments.region, arguments.to, arguments.dry_run))
    except StackError as error:
        print(f"{arguments.command}: {error}", file=sys.stderr)
        return 2
    except StepError as stopped:
        print(f"{arguments.command} stopped at {stopped.step}: {stopped.reason}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    arguments, _ = parser().parse_known_args(argv)
    return run(argv, Tools(aws=Aws.in_region(arguments.region), runner=SubprocessRunner()))


if __name__ == "__main__":
    sys.exit(main())
