"""The service's structured logger and CloudWatch metrics, created once and shared by every module.

Traces come from Lambda's own active tracing (init and invoke segments); no tracing SDK is imported.
"""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()
# A request that fails writes its one metric on a line of its own (kyber.api.count_failure), leaving
# the request's set empty; that is expected, not the mistake Powertools warns about on stderr.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
