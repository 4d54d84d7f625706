"""The evaluation's figures as PNG bytes (confusion matrix, calibration curve, parity distribution, a challenger's
flip table), drawn with matplotlib at build time for the model cards and the report; no deployed layer imports it."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure

from model_build.compare import Comparison
from model_build.evaluation import Metrics

FIGURE_SIZE = (4.2, 3.6)
DPI = 100


def _png(figure: Figure) -> bytes:
    figure.tight_layout()
    buffer = io.BytesIO()
    # No Software entry (it names matplotlib's version), so the same figure is the same bytes.
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def confusion_matrix_png(model: str, labels: tuple[str, ...], metrics: Metrics) -> bytes:
    counts = np.asarray(metrics.confusion)
    figure = Figure(figsize=FIGURE_SIZE)
    axes = figure.subplots()
    axes.imshow(counts, cmap="Blues", vmin=0)
    for (true, predicted), count in np.ndenumerate(counts):
        colour = "white" if count > counts.max() / 2 else "black"
        axes.text(predicted, true, str(count), ha="center", va="center", color=colour)
    axes.set_xticks(range(len(labels)), labels)
    axes.set_yticks(range(len(labels)), labels)
    axes.set_xlabel("predicted label")
    axes.set_ylabel("true label")
    axes.set_title(f"{model}: confusion matrix ({metrics.rows} rows)")
    return _png(figure)


def calibration_png(model: str, metrics: Metrics) -> bytes:
    figure = Figure(figsize=FIGURE_SIZE)
    axes = figure.subplots()
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfectly calibrated")
    confidence = [bin_.mean_confidence for bin_ in metrics.calibration]
    accuracy = [bin_.accuracy for bin_ in metrics.calibration]
    sizes = [20 + 200 * bin_.rows / metrics.rows for bin_ in metrics.calibration]
    axes.plot(confidence, accuracy, color="tab:blue")
    axes.scatter(confidence, accuracy, s=sizes, color="tab:blue", label="bins (area: rows)")
    axes.set_xlim(0, 1.02)
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("top score (mean in bin)")
    axes.set_ylabel("share predicted right")
    axes.set_title(f"{model}: calibration (ECE {metrics.expected_calibration_error:.3f})")
    axes.legend(loc="upper left", fontsize="small")
    return _png(figure)


def parity_png(model: str, differences: np.ndarray, tolerance: float) -> bytes:
    """Per row, the largest |score difference| between the ONNX export and the native model."""
    floor = np.finfo(np.float64).eps / 2
    exponents = np.log10(np.maximum(differences, floor))
    figure = Figure(figsize=FIGURE_SIZE)
    axes = figure.subplots()
    axes.hist(exponents, bins=[edge / 4 for edge in range(-68, -16)], color="tab:green")
    axes.axvline(np.log10(tolerance), color="tab:red", linestyle="--", label=f"tolerance {tolerance:.2g}")
    axes.set_xlabel("log10 max |ONNX - native| per row (exact: left edge)")
    axes.set_ylabel("rows")
    axes.set_title(f"{model}: parity on {len(differences):,} rows")
    axes.legend(loc="upper left", fontsize="small")
    return _png(figure)


FLIP_COLUMNS = ("both right", "fixed", "broken", "both wrong")


def flip_table_png(comparison: Comparison) -> bytes:
    """Per true label, its rows by who names them right: both models, only the challenger (fixed), only the
    champion (broken), neither."""
    counts = np.asarray([[flips.both_right, flips.fixed, flips.broken, flips.both_wrong] for flips in comparison.flips])
    figure = Figure(figsize=FIGURE_SIZE)
    axes = figure.subplots()
    # Only the flips are coloured: the rows both models agree on are the bulk and would wash the rest out.
    shade = np.zeros(counts.shape)
    shade[:, 1], shade[:, 2] = counts[:, 1], -counts[:, 2]
    limit = max(1, int(counts[:, 1:3].max()))
    axes.imshow(shade, cmap="RdYlGn", vmin=-limit, vmax=limit)
    for (label, column), count in np.ndenumerate(counts):
        colour = "white" if abs(shade[label, column]) > limit / 2 else "black"
        axes.text(column, label, str(count), ha="center", va="center", color=colour)
    axes.set_xticks(range(len(FLIP_COLUMNS)), FLIP_COLUMNS)
    axes.set_yticks(range(len(comparison.flips)), [flips.label for flips in comparison.flips])
    axes.set_xlabel("named right by")
    axes.set_ylabel("true label")
    axes.set_title(f"{comparison.model}: flips ({comparison.fixed} fixed, {comparison.broken} broken)")
    return _png(figure)
