"""Measuring the service: `make benchmark` (perf.benchmark, with its probes run in fresh interpreters) and
`make load` (perf.load)."""
