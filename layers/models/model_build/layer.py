"""The build's one entry point: every stage of model_build, in order, for the models of a delivery."""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kyber.labels import read_labels
from kyber.manifest import LABELS_FILE, Manifest
from model_build.challenger import (
    ChallengerBuild,
    compile_challengers,
    delivered_challengers,
    with_promotion_notes,
)
from model_build.compare import ChallengerGateError, OfflineRule
from model_build.compile import Assessment, compile_model, evaluation_setup
from model_build.contract import ModelContractError, ModelsLayerError, training_range
from model_build.evaluation import EVALUATION_FILE
from model_build.gate import QualityGate
from model_build.install import install, write_manifest
from model_build.load import native_models
from model_build.parity import DEFAULT_PROBE_ROWS, ParityError, probe_features

__all__ = [
    "Assessment",
    "ChallengerBuild",
    "ChallengerGateError",
    "LayerBuild",
    "ModelContractError",
    "ModelsLayerError",
    "ParityError",
    "build",
]


@dataclass(frozen=True)
class LayerBuild:
    """A finished build: its manifest, each model's assessment (for the report), and its challengers."""

    manifest: Manifest
    assessments: dict[str, Assessment]
    challengers: dict[str, ChallengerBuild] = field(default_factory=dict)

    def cost_record(self) -> dict[str, Any]:
        """Every serving-cost figure as this build measured it, per model and challenger, with the manifest it
        built: what `--cost-record` writes outside the layer, since the layer itself holds only what every build
        of the same delivery measures the same."""
        costs = {
            "models": {name: asdict(assessment.cost) for name, assessment in self.assessments.items()},
            "challengers": {name: asdict(built.assessment.cost) for name, built in self.challengers.items()},
        }
        return {
            "manifest_sha256": hashlib.sha256(self.manifest.to_json().encode()).hexdigest(),
            "measured_at": datetime.now(tz=UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
            **costs,
        }


def build(
    source: Path,
    out: Path,
    probe_rows: int = DEFAULT_PROBE_ROWS,
    evaluation: Path | None = None,
    gate: QualityGate | None = None,
    challenger_rule: OfflineRule | None = None,
) -> LayerBuild:
    """Compile source's native models into out, with labels, cards and manifest; return the manifest and what was
    measured of each model. The models are measured on evaluation (source's evaluation.csv by default) and held
    to gate (quality_gate.toml by default); the challengers in source's challenger folder, when it has one, go
    through the same stages and are held to challenger_rule too (challenger_gate.toml's [offline] by default)."""
    import torch

    if probe_rows < 0:
        raise ValueError("probe_rows must not be negative")
    labels = read_labels(source / LABELS_FILE)
    models = native_models(source, labels)
    challengers = delivered_challengers(source, labels)
    # Read before anything is built, so that an unusable gate file fails first; never without a challenger.
    rule = (challenger_rule or OfflineRule.read()) if challengers else None
    setup = evaluation_setup(evaluation or source / EVALUATION_FILE, labels, gate)
    feature_range = training_range(source)
    probe = probe_features(probe_rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    # One thread makes the native PyTorch figures, hence the manifest, the same on any machine.
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        compiled = {model.name: compile_model(model, staging, probe, labels, setup) for model in models}
        entries = with_promotion_notes(source, staging, {name: entry for name, (entry, _) in compiled.items()})
        built = compile_challengers(challengers, staging, probe, labels, setup, entries, rule) if rule else {}
        challenger_entries = {name: challenger.entry for name, challenger in built.items()}
        manifest = write_manifest(staging, source, labels, entries, feature_range, challenger_entries)
        staging.chmod(0o755)
        install(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        torch.set_num_threads(previous_threads)
    return LayerBuild(manifest, {name: assessment for name, (_, assessment) in compiled.items()}, built)
