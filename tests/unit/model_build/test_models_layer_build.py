"""Building the models layer: ONNX exports that match the native models, a manifest that tells the truth,
and builds that refuse, writing nothing, when an export or the labels do not fit."""

from __future__ import annotations

import copy
import platform
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import pytest
import skl2onnx
import sklearn
import torch
from sklearn.linear_model import LogisticRegression

import model_build.__main__ as build_command
from kyber.errors import ModelArtifactError
from kyber.manifest import Manifest, TrainingRange, read_manifest, sha256_of
from model_build import export as export_stage
from model_build import load as load_stage
from model_build.crystal_mlp import CrystalMLP
from model_build.layer import ModelContractError, ParityError, build
from model_build.parity import DEFAULT_PROBE_ROWS, probe_features
from tests.support.native_models import native_probabilities

OnnxProbabilities = Callable[[Path, str, np.ndarray], np.ndarray]


def fresh_rows() -> np.ndarray:
    """Rows the build's probe set never saw: another seed, a wider range, and the droids' small values."""
    rng = np.random.default_rng(90_210)
    return np.vstack([rng.uniform(-5.0, 15.0, size=(2_000, 4)), rng.uniform(0.0, 1.0, size=(500, 4))])


def test_default_build_holds_exactly_the_layer_files(
    built_models: Path,
) -> None:
    assert sorted(path.name for path in built_models.iterdir()) == [
        "manifest.json",
        "output_labels.txt",
        "pytorch.model-card.json",
        "pytorch.onnx",
        "sklearn.model-card.json",
        "sklearn.onnx",
    ]


def test_default_build_manifest_has_the_agreed_shape(
    default_manifest: dict[str, Any], default_build: tuple[Path, Manifest]
) -> None:
    assert read_manifest(default_build[0]) == default_build[1]
    assert list(default_manifest) == [
        "format",
        "labels",
        "labels_file",
        "feature_count",
        "models",
        "built_with",
        "training_range",
    ]
    assert default_manifest["format"] == 2
    assert default_manifest["labels"] == ["blue", "green", "yellow"]
    assert default_manifest["feature_count"] == 4
    assert list(default_manifest["models"]) == ["sklearn", "pytorch"]
    for model in default_manifest["models"].values():
        assert list(model) == [
            "file",
            "sha256",
            "input_name",
            "input_dtype",
            "probabilities_output",
            "source",
            "parity",
            "evaluation",
            "card",
            "serving_cost",
        ]
        assert list(model["serving_cost"]) == ["onnx_bytes", "gate", "limits"]
    assert default_manifest["built_with"] == {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "torch": torch.__version__,
        "skl2onnx": skl2onnx.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }


def test_default_build_manifest_hashes_are_the_files_hashes(
    built_models: Path, default_manifest: dict[str, Any], default_artifacts: Path
) -> None:
    labels_file = default_manifest["labels_file"]
    assert labels_file["file"] == "output_labels.txt"
    assert labels_file["sha256"] == sha256_of(built_models / "output_labels.txt")
    assert sha256_of(built_models / "output_labels.txt") == sha256_of(default_artifacts / "output_labels.txt")
    for name, model in default_manifest["models"].items():
        assert model["file"] == f"{name}.onnx"
        assert model["sha256"] == sha256_of(built_models / model["file"])
        assert model["source"] == {
            "file": f"{name}.model",
            "sha256": sha256_of(default_artifacts / f"{name}.model"),
        }


def test_default_build_manifest_names_the_real_onnx_inputs_and_outputs(
    built_models: Path, default_manifest: dict[str, Any]
) -> None:
    expected_dtypes = {"sklearn": ("float64", "tensor(double)"), "pytorch": ("float32", "tensor(float)")}
    for name, model in default_manifest["models"].items():
        session = onnxruntime.InferenceSession(str(built_models / model["file"]), providers=["CPUExecutionProvider"])
        (onnx_input,) = session.get_inputs()
        assert onnx_input.name == model["input_name"]
        assert (model["input_dtype"], onnx_input.type) == expected_dtypes[name]
        assert onnx_input.shape[1] == 4
        assert model["probabilities_output"] in [output.name for output in session.get_outputs()]


def test_default_build_records_the_parity_it_measured(
    built_models: Path, default_manifest: dict[str, Any], default_artifacts: Path, onnx_probabilities: OnnxProbabilities
) -> None:
    # The build's probe rows, scored again here by the built ONNX files and the native models
    probe = probe_features(DEFAULT_PROBE_ROWS)
    tolerances = {"sklearn": 1e-6, "pytorch": 2.0**-18}  # double- and single-precision exports
    for name, model in default_manifest["models"].items():
        rows = probe.astype(model["input_dtype"])
        exported = onnx_probabilities(built_models, name, rows).astype(np.float64)
        native = native_probabilities(name, default_artifacts, rows).astype(np.float64)
        parity = model["parity"]
        assert parity["rows"] == len(probe) == 150 + 10_000
        assert parity["max_abs_diff"] == pytest.approx(np.max(np.abs(exported - native)), rel=0.01, abs=1e-15)
        assert parity["max_abs_input"] == float(np.max(np.abs(rows)))
        assert parity["tolerance"] == tolerances[name]


def test_built_sklearn_onnx_gives_scikit_learns_probabilities_on_fresh_rows(
    built_models: Path, default_artifacts: Path, onnx_probabilities: OnnxProbabilities
) -> None:
    rows = fresh_rows()
    native = native_probabilities("sklearn", default_artifacts, rows)
    exported = onnx_probabilities(built_models, "sklearn", rows)
    assert exported.dtype == np.float64
    assert np.max(np.abs(exported - native)) <= 1e-12
    assert np.array_equal(np.argmax(exported, axis=1), np.argmax(native, axis=1))


def test_built_pytorch_onnx_gives_pytorchs_probabilities_on_fresh_rows(
    built_models: Path, default_artifacts: Path, onnx_probabilities: OnnxProbabilities
) -> None:
    rows = fresh_rows()
    native = native_probabilities("pytorch", default_artifacts, rows)
    exported = onnx_probabilities(built_models, "pytorch", rows)
    assert exported.shape == (rows.shape[0], 3)
    assert np.max(np.abs(exported.astype(np.float64) - native.astype(np.float64))) <= 2.0**-18
    assert np.array_equal(np.argmax(exported, axis=1), np.argmax(native, axis=1))


def test_same_artifacts_built_twice_give_identical_layer_files(
    built_models: Path, default_artifacts: Path, tmp_path: Path
) -> None:
    again = tmp_path / "models"
    build(default_artifacts, again)
    for path in built_models.iterdir():
        assert sha256_of(again / path.name) == sha256_of(path), path.name


@pytest.mark.parametrize("reorder", [list, lambda opsets: list(reversed(opsets))], ids=["as given", "reversed"])
def test_the_sklearn_export_is_the_same_bytes_whatever_order_skl2onnx_lists_its_opsets_in(
    default_artifacts: Path,
    built_models: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    reorder: Callable[[list[Any]], list[Any]],
) -> None:
    # skl2onnx collects the opsets a model uses in a set, whose order can change from one process to the next
    real_convert = export_stage.convert_sklearn

    def convert_with_reordered_opsets(*args: Any, **kwargs: Any) -> Any:
        converted = real_convert(*args, **kwargs)
        opsets = reorder(list(converted.opset_import))
        del converted.opset_import[:]
        converted.opset_import.extend(opsets)
        return converted

    monkeypatch.setattr(export_stage, "convert_sklearn", convert_with_reordered_opsets)
    out = tmp_path / "sklearn.onnx"

    export_stage.export_sklearn(load_stage.load_sklearn_model(default_artifacts / "sklearn.model"), out)

    assert sha256_of(out) == sha256_of(built_models / "sklearn.onnx")


real_export_pytorch = export_stage.export_pytorch
real_export_sklearn = export_stage.export_sklearn


def export_pytorch_with_one_perturbed_bias(model: CrystalMLP, path: Path) -> None:
    tampered = copy.deepcopy(model)
    with torch.no_grad():
        tampered.layer3.bias[0] += 1e-3
    real_export_pytorch(tampered, path)


def export_sklearn_with_one_perturbed_intercept(model: LogisticRegression, path: Path) -> None:
    tampered = copy.deepcopy(model)
    tampered.intercept_[0] += 1e-3
    real_export_sklearn(tampered, path)


@pytest.mark.parametrize(
    ("exporter", "tampered_export", "tolerance"),
    [
        ("export_pytorch", export_pytorch_with_one_perturbed_bias, "3.8147e-06"),
        ("export_sklearn", export_sklearn_with_one_perturbed_intercept, "1e-06"),
    ],
)
def test_export_that_differs_from_the_native_model_fails_the_build_and_writes_nothing(
    exporter: str,
    tampered_export: Callable[[Any, Path], None],
    tolerance: str,
    default_artifacts: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(load_stage, exporter, tampered_export)
    out = tmp_path / "layer" / "models"

    with pytest.raises(ParityError, match=rf"max \|dp\| = .* \(tolerance {tolerance}\)"):
        build(default_artifacts, out)

    assert not out.exists()
    assert list(out.parent.iterdir()) == []


def test_failed_build_leaves_the_previous_layer_as_it_was(
    default_artifacts: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "models"
    out.mkdir()
    (out / "manifest.json").write_text("previous build", encoding="utf-8")
    monkeypatch.setattr(load_stage, "export_pytorch", export_pytorch_with_one_perturbed_bias)

    with pytest.raises(ParityError):
        build(default_artifacts, out)

    assert [path.name for path in tmp_path.iterdir()] == ["models"]
    assert [path.name for path in out.iterdir()] == ["manifest.json"]
    assert (out / "manifest.json").read_text(encoding="utf-8") == "previous build"


@pytest.fixture
def artifacts_with_two_labels(default_artifacts: Path, tmp_path: Path) -> Path:
    source = tmp_path / "source"
    shutil.copytree(default_artifacts, source)
    (source / "output_labels.txt").write_text("['blue', 'green']", encoding="utf-8")
    return source


def test_labels_file_with_two_labels_fails_the_build_naming_both_counts(
    artifacts_with_two_labels: Path, tmp_path: Path
) -> None:
    out = tmp_path / "models"

    with pytest.raises(ModelContractError, match=r"gives 3 outputs but the labels file names 2"):
        build(artifacts_with_two_labels, out)

    assert not out.exists()


def test_cli_build_with_two_labels_exits_1_with_the_reason(
    artifacts_with_two_labels: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "models"

    status = build_command.main(["--source", str(artifacts_with_two_labels), "--out", str(out)])

    assert status == 1
    assert "gives 3 outputs but the labels file names 2" in capsys.readouterr().err
    assert not out.exists()


def test_cli_build_of_default_artifacts_prints_parity_and_sizes(
    default_artifacts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "models"

    status = build_command.main(["--source", str(default_artifacts), "--out", str(out), "--probe-rows", "1000"])

    printed = capsys.readouterr().out
    assert status == 0
    assert "sklearn.onnx" in printed
    assert "pytorch.onnx" in printed
    assert "parity on 1,150 rows" in printed
    assert printed.count("serving cost: ") == 2
    assert (out / "manifest.json").is_file()


def test_default_build_records_the_training_range_the_training_wrote(
    default_manifest: dict[str, Any], default_artifacts: Path
) -> None:
    delivered = TrainingRange.read(default_artifacts / "training_range.json")
    assert default_manifest["training_range"] == {
        "minimum": list(delivered.minimum),
        "maximum": list(delivered.maximum),
        "source": "training_range.json",
    }


def delivery_without(default_artifacts: Path, folder: Path, *missing: str) -> Path:
    folder.mkdir()
    for path in default_artifacts.iterdir():
        if path.name not in missing:
            shutil.copyfile(path, folder / path.name)
    return folder


def test_a_delivery_without_a_training_range_is_given_the_range_of_iris(
    default_artifacts: Path, tmp_path: Path
) -> None:
    from sklearn.datasets import load_iris

    source = delivery_without(default_artifacts, tmp_path / "source", "training_range.json")
    manifest = build(source, tmp_path / "models", probe_rows=0).manifest
    iris = load_iris().data
    assert manifest.training_range == TrainingRange(
        minimum=tuple(iris.min(axis=0).tolist()),
        maximum=tuple(iris.max(axis=0).tolist()),
        source="sklearn.datasets.load_iris",
    )


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ('{"minimum": [1, 2, 3], "maximum": [2, 3, 4]}', "range of 3 features, not 4"),
        ('{"minimum": [1, 2, 3, 5], "maximum": [2, 3, 4, 4]}', "each minimum at most its maximum"),
        ('{"minimum": [1, 2, 3, NaN], "maximum": [2, 3, 4, 5]}', "a non-empty list of numbers"),
        ('{"minimum": [1, 2, 3, 4]}', "has no 'maximum'"),
    ],
)
def test_a_training_range_that_does_not_fit_fails_the_build_and_writes_nothing(
    default_artifacts: Path, tmp_path: Path, document: str, reason: str
) -> None:
    source = delivery_without(default_artifacts, tmp_path / "source", "training_range.json")
    (source / "training_range.json").write_text(document)
    with pytest.raises((ModelContractError, ModelArtifactError), match=reason):
        build(source, tmp_path / "models", probe_rows=0)
    assert not (tmp_path / "models").exists()
