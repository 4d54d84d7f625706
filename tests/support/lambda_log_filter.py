"""Lambda's filtering of a function's application log lines by level (JSON log format), as its documentation
states it: a line's level is its "level" field when that names one of Lambda's levels and its "timestamp" field is
an RFC 3339 timestamp; any other line (no level, another level name, no or another timestamp, not JSON) is INFO.
Lambda keeps the lines at or above the function's ApplicationLogLevel."""

from __future__ import annotations

import json
import re

LAMBDA_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
RFC_3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def lambda_level(line: str) -> str:
    """The level Lambda gives a line of the function's output."""
    try:
        record = json.loads(line)
    except ValueError:
        return "INFO"
    if not isinstance(record, dict):
        return "INFO"
    level, timestamp = record.get("level"), record.get("timestamp")
    if level in LAMBDA_LEVELS and isinstance(timestamp, str) and RFC_3339.fullmatch(timestamp):
        return str(level)
    return "INFO"


def kept_by_lambda(output: str, application_log_level: str) -> list[str]:
    """The lines of a function's output that reach CloudWatch Logs at this ApplicationLogLevel."""
    lowest = LAMBDA_LEVELS.index(application_log_level)
    return [line for line in output.splitlines() if LAMBDA_LEVELS.index(lambda_level(line)) >= lowest]
