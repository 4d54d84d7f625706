"""The service's structured logger and CloudWatch metrics, created once and shared by every module.

Traces come from Lambda's own active tracing (init and invoke segments); no tracing SDK is imported.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()
