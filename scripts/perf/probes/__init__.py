"""Programs the benchmark runs in a fresh interpreter, each printing its figures as one JSON line."""
