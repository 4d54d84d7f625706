"""Train the project's default models on scikit-learn's Iris data, in the ML team's formats.

A seeded, stratified part of Iris is held out: the models are fitted on the rest and the held-out rows are
written as evaluation.csv, the data the models layer build measures them on. Also writes sklearn.model
(joblib LogisticRegression), pytorch.model (torch.save of the CrystalMLP state dict), output_labels.txt
(a Python-literal list) and training_range.json (each feature's range in the rows the models were fitted on);
two runs on the same machine give byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import torch
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from kyber.manifest import TRAINING_RANGE_FILE, TrainingRange
from model_build.crystal_mlp import CrystalMLP

SEED = 20_230_117
# Iris classes setosa, versicolor, virginica name Kyber colours in this order: label i names output i.
LABELS = ("blue", "green", "yellow")
SKLEARN_FILE = "sklearn.model"
PYTORCH_FILE = "pytorch.model"
LABELS_FILE = "output_labels.txt"
EVALUATION_FILE = "evaluation.csv"
FEATURE_COLUMNS = ("sepal_length", "sepal_width", "petal_length", "petal_width")
HELD_OUT_FRACTION = 0.3
MLP_EPOCHS = 1_000
MLP_LEARNING_RATE = 0.01
MLP_WEIGHT_DECAY = 0.01
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "artifacts"


@dataclass(frozen=True)
class TrainingReport:
    """Accuracies on the rows each model was fitted on (the held-out ones are the build's to measure)."""

    sklearn_accuracy: float
    pytorch_accuracy: float
    training_rows: int
    held_out_rows: int
    files: tuple[Path, ...]


@dataclass(frozen=True)
class IrisSplit:
    training_features: np.ndarray
    training_target: np.ndarray
    held_out_features: np.ndarray
    held_out_target: np.ndarray


def split_iris(seed: int = SEED) -> IrisSplit:
    """Iris in two seeded parts, each with the three classes in Iris's own proportions."""
    features, target = load_iris(return_X_y=True)
    features = np.ascontiguousarray(features, dtype=np.float64)
    training_features, held_out_features, training_target, held_out_target = train_test_split(
        features, target, test_size=HELD_OUT_FRACTION, random_state=seed % 2**32, stratify=target
    )
    return IrisSplit(training_features, training_target, held_out_features, held_out_target)


def write_evaluation_csv(path: Path, features: np.ndarray, target: np.ndarray) -> None:
    """The held-out rows with their label names, in the format the models layer build reads."""
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow([*FEATURE_COLUMNS, "label"])
        for row, label in zip(features.tolist(), target.tolist(), strict=True):
            writer.writerow([*(repr(value) for value in row), LABELS[label]])


@contextmanager
def _deterministic_torch(seed: int) -> Iterator[None]:
    """Seed torch, force deterministic kernels and one thread; restore the process's settings afterwards."""
    previous_threads = torch.get_num_threads()
    previous_deterministic = torch.are_deterministic_algorithms_enabled()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.set_num_threads(1)
        torch.use_deterministic_algorithms(True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(previous_deterministic)
            torch.set_num_threads(previous_threads)


def train_logistic_regression(features: np.ndarray, target: np.ndarray) -> LogisticRegression:
    # lbfgs on more than two classes fits the multinomial (softmax) model, as the ML team's did.
    model = LogisticRegression(solver="lbfgs", max_iter=1_000)
    model.fit(features, target)
    return model


def train_mlp(features: np.ndarray, target: np.ndarray, class_count: int) -> CrystalMLP:
    inputs = torch.from_numpy(features.astype(np.float32))
    labels = torch.from_numpy(target.astype(np.int64))
    model = CrystalMLP(feature_count=inputs.shape[1], class_count=class_count)
    # Weight decay keeps the weights, and so the logits on rows far from the data, small. Without it the network
    # fitted on part of Iris grows so confident that its held-out log loss is poor and float32 rounding far
    # from the data differs between PyTorch and ONNX Runtime by more than the parity tolerance.
    optimiser = torch.optim.Adam(model.parameters(), lr=MLP_LEARNING_RATE, weight_decay=MLP_WEIGHT_DECAY)
    loss_function = torch.nn.CrossEntropyLoss()
    model.train()
    for _ in range(MLP_EPOCHS):
        optimiser.zero_grad()
        loss = loss_function(model.logits(inputs), labels)
        loss.backward()
        optimiser.step()
    return model.eval()


def train_default_models(out: Path) -> TrainingReport:
    split = split_iris()
    features, target = split.training_features, split.training_target
    random.seed(SEED)
    np.random.seed(SEED)
    with threadpool_limits(limits=1), _deterministic_torch(SEED):
        logistic = train_logistic_regression(features, target)
        mlp = train_mlp(features, target, class_count=len(LABELS))
        with torch.no_grad():
            mlp_predictions = mlp(torch.from_numpy(features.astype(np.float32))).argmax(dim=1).numpy()

    out.mkdir(parents=True, exist_ok=True)
    sklearn_path, pytorch_path, labels_path = out / SKLEARN_FILE, out / PYTORCH_FILE, out / LABELS_FILE
    evaluation_path, range_path = out / EVALUATION_FILE, out / TRAINING_RANGE_FILE
    joblib.dump(logistic, sklearn_path)
    torch.save(mlp.state_dict(), pytorch_path)
    labels_path.write_text(repr(list(LABELS)), encoding="utf-8")
    write_evaluation_csv(evaluation_path, split.held_out_features, split.held_out_target)
    fitted_on = TrainingRange(
        minimum=tuple(features.min(axis=0).tolist()), maximum=tuple(features.max(axis=0).tolist()), source=""
    )
    range_path.write_text(fitted_on.to_json(), encoding="utf-8")
    return TrainingReport(
        sklearn_accuracy=float(logistic.score(features, target)),
        pytorch_accuracy=float(np.mean(mlp_predictions == target)),
        training_rows=len(target),
        held_out_rows=len(split.held_out_target),
        files=(sklearn_path, pytorch_path, labels_path, evaluation_path, range_path),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    report = train_default_models(args.out)
    print(f"fitted on {report.training_rows} Iris rows, {report.held_out_rows} held out for evaluation")
    print(f"LogisticRegression training accuracy: {report.sklearn_accuracy:.4f}")
    print(f"CrystalMLP training accuracy:         {report.pytorch_accuracy:.4f}")
    for path in report.files:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
