"""What the ML team's own libraries say: the native models' probabilities, to compare the service with."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from model_build.load import load_pytorch_model, load_sklearn_model


def native_probabilities(model: str, source: Path, rows: np.ndarray | list[list[float]]) -> np.ndarray:
    """scikit-learn in float64, PyTorch in float32, as each model computes natively."""
    if model == "sklearn":
        return np.asarray(load_sklearn_model(source / "sklearn.model").predict_proba(np.asarray(rows, np.float64)))
    network = load_pytorch_model(source / "pytorch.model")
    with torch.no_grad():
        return np.asarray(network(torch.from_numpy(np.asarray(rows, np.float32))).numpy())
