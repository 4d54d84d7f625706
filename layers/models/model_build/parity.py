"""The parity stage: the rows an export is probed on, and how close it must come to its native model. Reading a
tolerance imports neither torch nor a converter."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_iris

from kyber.manifest import Parity
from model_build.contract import FEATURE_COUNT, ModelsLayerError

# Largest |dp| allowed between an export and its native model, by the precision the export computes in.
# Two single-precision evaluations of one network differ by rounding alone: on rows far from the data,
# PyTorch (MKL) and ONNX Runtime (MLAS) gave 1.4e-6 to 1.7e-6 apart on AVX2 CPUs, each about 2e-6 from
# the network evaluated in double precision. 2**-18 is 32 float32 units in the last place of 1.0.
PARITY_TOLERANCE = {"float64": 1e-6, "float32": 2.0**-18}


DEFAULT_PROBE_ROWS = 10_000


PROBE_SEED = 4_242


class ParityError(ModelsLayerError):
    """An ONNX export does not reproduce its native model on the probe set."""


def probe_features(probe_rows: int) -> np.ndarray:
    """Iris itself, then probe_rows seeded random rows: most uniform in [-1, 10], a tenth near zero like the
    droids' samples, a tenth far out in [-100, 100]."""
    rng = np.random.default_rng(PROBE_SEED)
    tenth = probe_rows // 10
    usual = rng.uniform(-1.0, 10.0, size=(probe_rows - 2 * tenth, FEATURE_COUNT))
    near_zero = rng.uniform(0.0, 1.0, size=(tenth, FEATURE_COUNT))
    far = rng.uniform(-100.0, 100.0, size=(tenth, FEATURE_COUNT))
    iris = np.asarray(load_iris().data, dtype=np.float64)
    return np.ascontiguousarray(np.vstack([iris, usual, near_zero, far]))


def tolerance_for(dtype: str, summed_trees: int = 0) -> float:
    """The parity tolerance of an export computing in dtype. A tree ensemble's export adds up its trees' scores in
    float32, one rounding (2**-23 of a score up to 1) per tree: measured, 60 trees 3.0e-7 from scikit-learn, 500
    trees 5.8e-6, 2,000 trees 1.9e-5 (docs/models.md), each within this bound."""
    return max(PARITY_TOLERANCE[dtype], summed_trees * 2.0**-23)


def measure_parity(
    name: str, rows: np.ndarray, native: np.ndarray, exported: np.ndarray, tolerance: float | None = None
) -> Parity:
    """How close the export came to the native model on rows, held to tolerance (by default its precision's)."""
    tolerance = PARITY_TOLERANCE[rows.dtype.name] if tolerance is None else tolerance
    if native.shape != exported.shape:
        raise ParityError(f"{name}: ONNX gives shape {exported.shape}, the native model {native.shape}")
    difference = np.abs(native.astype(np.float64) - exported.astype(np.float64))
    max_abs_diff = float(np.max(difference)) if difference.size else 0.0
    mismatched = int(np.count_nonzero(np.argmax(native, axis=1) != np.argmax(exported, axis=1)))
    if not np.isfinite(max_abs_diff) or max_abs_diff > tolerance or mismatched:
        raise ParityError(
            f"{name}: ONNX export does not match the native model on {native.shape[0]} probe rows: "
            f"max |dp| = {max_abs_diff:.3g} (tolerance {tolerance:g}), "
            f"{mismatched} rows with a different argmax"
        )
    return Parity(
        rows=native.shape[0],
        max_abs_diff=max_abs_diff,
        tolerance=tolerance,
        max_abs_input=float(np.max(np.abs(rows))),
    )


def row_differences(native: np.ndarray, exported: np.ndarray) -> np.ndarray:
    """Per row, the largest |score difference| between the native model and its export."""
    return np.asarray(np.abs(native.astype(np.float64) - exported.astype(np.float64)).max(axis=1, initial=0.0))
