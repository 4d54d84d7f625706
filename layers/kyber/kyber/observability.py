"""The service's structured logger and CloudWatch metrics, created once and shared by every module.

Traces come from Lambda's own active tracing (init and invoke segments); no tracing SDK is imported.
"""

from __future__ import annotations

import os
import time
import warnings

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

# Timestamps in RFC 3339, in UTC, as Lambda's log filter reads them (it takes a line whose timestamp it cannot
# read as INFO, whatever its level).
logger = Logger(utc=True, use_rfc3339=True)
# Lambda's own filter stays at INFO, so that it never drops the metric and capture lines, which carry no level
# (template.yaml, LambdaLogLevel); Powertools then takes Lambda's level as its own, so the level asked for is
# applied where the service's own lines are written.
logger.registered_handler.setLevel(os.environ.get("POWERTOOLS_LOG_LEVEL", "INFO").upper())
metrics = Metrics()


def metric_lines_enabled() -> bool:
    """Whether the service's own metric lines (the model figures, the shadow's) are written: by Powertools' rule for
    its metrics (off with POWERTOOLS_METRICS_DISABLED=true, or POWERTOOLS_DEV=true without it), so that one
    setting silences every metric the function writes, not only those that go through Powertools."""
    return not is_metrics_disabled()


def elapsed_ms(started: float, digits: int = 2) -> float:
    """Milliseconds since started (a time.perf_counter() reading), rounded for a log line."""
    return round((time.perf_counter() - started) * 1000, digits)


# A request that fails writes its one metric on a line of its own (kyber.api.count_failure), leaving
# the request's set empty; that is expected, not the mistake Powertools warns about on stderr.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
