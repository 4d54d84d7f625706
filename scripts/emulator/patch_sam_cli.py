"""Two fixes to SAM CLI 1.170.0's local emulator, applied to the project's own virtual environment.

1. After each invocation SAM waits up to 1 s for the runtime's `REPORT RequestId` line, which it
   looks for with `re.match` on each chunk of container output: a chunk holding two or more lines
   before `REPORT` (a log line, the metrics line and `END`) is missed and the answer waits the
   full second. Fixed by searching every line of the chunk.
2. `--warm-containers EAGER` starts one thread per function, and each thread creates the shared
   runner and Lambda runtime lazily, without a lock: threads that lose the race start containers
   in a runtime that is then dropped, so the first request to those functions starts another
   container and the dropped one is never stopped. Fixed by creating both before the
   threads start.

Usage: python scripts/emulator/patch_sam_cli.py [--check]. Applying twice changes nothing; --check exits 1
when the patch is not applied. A SAM CLI other than 1.170.0 is refused: see whether it still has
these defects (tests/unit/scripts/test_patch_sam_cli.py shows them) before porting or dropping the patch.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import samcli

PATCHED_VERSION = "1.170.0"
SAMCLI_DIR = Path(samcli.__file__).resolve().parent

ORIGINAL_REPORT_PATTERN = r"(.*\s)?REPORT RequestId:\s.+ Duration:\s.+\sMemory Size:\s.+\sMax Memory Used:\s.+"


@dataclass(frozen=True)
class Hunk:
    file: str
    original: str
    patched: str


HUNKS = (
    Hunk(
        "local/docker/container.py",
        f'        pattern = r"{ORIGINAL_REPORT_PATTERN}"\n',
        '        pattern = r"^REPORT RequestId:\\s.+ Duration:\\s.+\\sMemory Size:\\s.+\\sMax Memory Used:\\s.+"\n',
    ),
    Hunk(
        "local/docker/container.py",
        "        if re.match(pattern, output_str) is not None and event:\n",
        "        if re.search(pattern, output_str, re.MULTILINE) is not None and event:  # kyber: any line\n",
    ),
    Hunk(
        "commands/local/cli_common/invoke_context.py",
        '        LOG.info("Initializing the lambda functions containers.")\n\n        container_ids = []\n',
        '        LOG.info("Initializing the lambda functions containers.")\n\n        container_ids = []\n'
        "        # kyber: one runner and runtime for all the threads below, not one per thread that races\n"
        "        runner, runtime = self.local_lambda_runner, self.lambda_runtime\n",
    ),
    Hunk(
        "commands/local/cli_common/invoke_context.py",
        "            function_config = self.local_lambda_runner.get_invoke_config(function)\n"
        "            container = self.lambda_runtime.run(\n",
        "            function_config = runner.get_invoke_config(function)\n            container = runtime.run(\n",
    ),
)


class PatchError(RuntimeError):
    """SAM CLI is not the version the patch is for, or its source is not what the patch expects."""


def hunk_states(samcli_dir: Path = SAMCLI_DIR) -> list[bool]:
    """For each hunk, True when applied, False when not; PatchError when neither text is there."""
    states = []
    for hunk in HUNKS:
        source = (samcli_dir / hunk.file).read_text(encoding="utf-8")
        if source.count(hunk.patched) == 1:
            states.append(True)
        elif source.count(hunk.original) == 1:
            states.append(False)
        else:
            raise PatchError(f"{samcli_dir / hunk.file} holds neither the original nor the patched text of a hunk")
    return states


def apply(samcli_dir: Path = SAMCLI_DIR, version: str = samcli.__version__) -> int:
    """Apply the hunks not yet applied; return how many were."""
    if version != PATCHED_VERSION:
        raise PatchError(f"SAM CLI is {version}; this patch is for {PATCHED_VERSION}")
    pending = [hunk for hunk, applied in zip(HUNKS, hunk_states(samcli_dir), strict=True) if not applied]
    for hunk in pending:
        path = samcli_dir / hunk.file
        path.write_text(path.read_text(encoding="utf-8").replace(hunk.original, hunk.patched), encoding="utf-8")
    return len(pending)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether the patch is applied")
    options = parser.parse_args()
    try:
        if options.check:
            applied = all(hunk_states())
            print(f"SAM CLI {samcli.__version__} at {SAMCLI_DIR}: patch {'applied' if applied else 'NOT applied'}")
            return 0 if applied else 1
        count = apply()
    except PatchError as error:
        print(f"patch_sam_cli: {error}", file=sys.stderr)
        return 1
    print(f"SAM CLI {samcli.__version__} at {SAMCLI_DIR}: {count} of {len(HUNKS)} hunks applied now")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
