"""`make shadow-report`: how a challenger did in its champion's shadow, read from the shadow's metrics in CloudWatch
or from captured requests, with a verdict against challenger_gate.toml's [online] thresholds.

  figures   the comparison's figures: agreement, Cohen's kappa, the flip matrix, Jensen-Shannon distances, latency
  sources   the figures read from captured requests (a folder or S3) or from CloudWatch's metrics
  verdict   the [online] rule, the verdict and the verdict file build/shadow-report/<model>.json
"""
