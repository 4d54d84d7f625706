"""The manifest and install stages: the layer's manifest (labels, files and their hashes, each model's figures,
the training range, the tools it was built with), and the finished folder put in place in one rename."""

from __future__ import annotations

import platform
import shutil
from collections.abc import Mapping
from importlib.metadata import version
from pathlib import Path

from kyber.manifest import (
    LABELS_FILE,
    MANIFEST_FILE,
    MANIFEST_FORMAT,
    FileRef,
    Manifest,
    ModelEntry,
    TrainingRange,
    sha256_of,
)
from model_build.contract import FEATURE_COUNT, ModelsLayerError

# Read from the installed distributions, so that describing a build imports none of them.
TOOLS = ("scikit-learn", "torch", "skl2onnx", "onnx", "onnxruntime")


def built_with() -> dict[str, str]:
    return {"python": platform.python_version(), **{tool: version(tool) for tool in TOOLS}}


def write_manifest(
    staging: Path,
    source: Path,
    labels: tuple[str, ...],
    entries: dict[str, ModelEntry],
    feature_range: TrainingRange,
    challengers: Mapping[str, ModelEntry] | None = None,
) -> Manifest:
    """The labels file copied beside the models, and the manifest written over everything in staging."""
    shutil.copyfile(source / LABELS_FILE, staging / LABELS_FILE)
    manifest = Manifest(
        format=MANIFEST_FORMAT,
        labels=labels,
        labels_file=FileRef(file=LABELS_FILE, sha256=sha256_of(staging / LABELS_FILE)),
        feature_count=FEATURE_COUNT,
        models=entries,
        built_with=built_with(),
        training_range=feature_range,
        challengers=challengers or {},
    )
    (staging / MANIFEST_FILE).write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def install(staging: Path, out: Path) -> None:
    """Put the finished staging folder at out in one rename, replacing a previous build if there is one."""
    if out.exists() and not out.is_dir():
        raise ModelsLayerError(f"{out} exists and is not a folder")
    previous = out.with_name(f".{out.name}.previous")
    if out.exists():
        shutil.rmtree(previous, ignore_errors=True)
        out.rename(previous)
    staging.rename(out)
    shutil.rmtree(previous, ignore_errors=True)
