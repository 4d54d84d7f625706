"""What the original Flask service did at its start, in this fresh interpreter: import joblib and torch, load the
native models, score one row with each; prints the peak RSS as JSON.
Usage: python -m scripts.perf.probes.seed_style ARTIFACTS_DIR"""

import json
import resource
import sys
from pathlib import Path

import joblib
import numpy
import torch

from model_build.crystal_mlp import CrystalMLP

artifacts = Path(sys.argv[1])
sklearn_model = joblib.load(artifacts / "sklearn.model")
network = CrystalMLP()
network.load_state_dict(torch.load(artifacts / "pytorch.model", weights_only=True))
rows = numpy.array([[0.92, 0.12, 0.31, 0.09]])
sklearn_model.predict_proba(rows)
with torch.no_grad():
    network(torch.tensor(rows, dtype=torch.float32))
print(json.dumps({"max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
