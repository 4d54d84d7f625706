"""`make shadow-report` on what the service really writes: capture records and shadow metric lines recorded from the
functions in-process, with a challenger shadowing every request. Its figures are checked against scikit-learn's
cohen_kappa_score and SciPy's jensenshannon on the same records; its verdicts against the [online] thresholds."""

from __future__ import annotations

import contextlib
import gzip
import importlib
import io
import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
from moto import mock_aws
from scipy.spatial.distance import jensenshannon
from sklearn.metrics import cohen_kappa_score

from kyber.manifest import read_manifest
from scripts.harness.events import FakeLambdaContext, json_event, protocol_event
from scripts.project import metrics_namespace, service_name
from scripts.shadow.__main__ import main
from scripts.shadow.figures import SCORE_BINS
from scripts.shadow.sources import MetricsWindow, from_captures, from_cloudwatch
from scripts.shadow.verdict import OnlineRule, OnlineRuleError

GATE = """[offline]
margin = 0.10
confidence = 0.95
resamples = 10_000

[online]
min_rows = {min_rows}
min_agreement = {min_agreement}
min_kappa = {min_kappa}
max_label_divergence = 0.5
max_score_divergence = 0.5
max_error_rate = 0.01
"""


@contextlib.contextmanager
def environment_of_a_new_execution_environment(**variables: str) -> Iterator[None]:
    """The service's environment with these variables, its settings and models read afresh, for a whole module."""
    from kyber.registry import get_registry
    from kyber.settings import get_settings

    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    get_settings.cache_clear()
    get_registry.cache_clear()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()
        get_registry.cache_clear()


def sklearn_function_output(rng: np.random.Generator) -> list[str]:
    """The /sklearn function's output for 40 requests of its native route and 5 of the protocol's."""
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        module = "functions.sklearn.app"
        handler = importlib.reload(sys.modules[module]) if module in sys.modules else importlib.import_module(module)
        context = FakeLambdaContext()
        for _ in range(40):
            rows = rng.uniform(0, 8, size=(int(rng.integers(1, 30)), 4)).round(2).tolist()
            handler.lambda_handler(json_event("sklearn", {"crystalData": rows}), context)
        for _ in range(5):
            tensor = {
                "name": "crystal_data",
                "shape": [3, 4],
                "datatype": "FP64",
                "data": rng.uniform(0, 8, (3, 4)).tolist(),
            }
            body = json.dumps({"inputs": [tensor]})
            handler.lambda_handler(protocol_event("sklearn", "POST", "/v2/models/sklearn/infer", body), context)
    return output.getvalue().splitlines()


@pytest.fixture(scope="module")
def recorded(challenger_models: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """The service's output for 45 requests, every one shadowed and captured: the capture records as the stack
    delivers them (gzipped and plain files), and every line."""
    shadowing = {"KYBER_SHADOW_PERCENT": "100", "KYBER_DATA_CAPTURE_PERCENT": "100"}
    with environment_of_a_new_execution_environment(KYBER_MODELS_DIR=str(challenger_models), **shadowing):
        lines = sklearn_function_output(np.random.default_rng(5))
    records = [line for line in lines if '"captureData"' in line]
    folder = tmp_path_factory.mktemp("capture") / "capture" / "2026" / "12"
    folder.mkdir(parents=True)
    (folder / "part-1.gz").write_bytes(gzip.compress(("\n".join(records[:20]) + "\n").encode()))
    (folder / "part-2").write_text("\n".join(records[20:]) + "\n")
    return folder.parents[1], lines


def both_outputs(lines: list[str]) -> tuple[list[str], list[str], list[float], list[float]]:
    """Each shadowed row's label and top score by model, read straight from the droids' routes' records."""
    champion, challenger, champion_top, challenger_top = [], [], [], []
    for record in (json.loads(line) for line in lines if '"shadowOutput"' in line):
        answer = json.loads(record["captureData"]["endpointOutput"]["data"])
        if "prediction" not in answer:
            continue
        shadow = json.loads(record["captureData"]["shadowOutput"]["data"])
        champion += answer["prediction"]
        challenger += shadow["prediction"]
        champion_top += [max(scores.values()) for scores in answer["scores"]]
        challenger_top += [max(scores.values()) for scores in shadow["scores"]]
    return champion, challenger, champion_top, challenger_top


def test_the_figures_from_captured_requests_are_scikit_learns_and_scipys(recorded):
    folder, lines = recorded
    # When the report reads the capture records
    (figures,) = from_captures(str(folder))
    # Then the rows compared are every shadowed row, the droids' routes' and the protocol's
    champion, challenger, champion_top, challenger_top = both_outputs(lines)
    assert figures.rows == len(champion) + 5 * 3
    assert (figures.requests, figures.errors, figures.skipped) == (45, 0, 0)
    # and on the droids' routes' rows alone, the figures are those of scikit-learn and SciPy
    (droids,) = from_captures(str(write_records(folder.parent / "droids", lines, protocol=False)))
    labels = list(droids.labels)
    assert droids.kappa == pytest.approx(cohen_kappa_score(champion, challenger, labels=labels), abs=1e-12)
    assert droids.agreement == pytest.approx(np.mean(np.array(champion) == np.array(challenger)))
    counts = [[label_list.count(label) for label in labels] for label_list in (champion, challenger)]
    assert droids.label_divergence == pytest.approx(jensenshannon(*counts, base=2), abs=1e-12)
    edges = np.linspace(0, 1, SCORE_BINS + 1)
    histograms = [np.histogram(top, edges)[0] for top in (champion_top, challenger_top)]
    assert droids.score_divergence == pytest.approx(jensenshannon(*histograms, base=2), abs=1e-12)
    flips = sum(first != second for first, second in zip(champion, challenger, strict=True))
    assert 0 < flips == sum(droids.flips().values())
    p50, p99 = droids.added_ms
    assert p50 is not None
    assert p99 is not None
    assert 0 < p50 <= p99


def write_records(folder: Path, lines: list[str], protocol: bool) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    records = [line for line in lines if '"captureData"' in line]
    if not protocol:
        records = [line for line in records if "crystalData" in line]
    (folder / "records").write_text("\n".join(records) + "\n")
    return folder


def put_emf_lines(client: Any, lines: list[str], when: datetime) -> None:
    """What CloudWatch makes of the service's EMF lines: each metric of each directive, with its dimensions."""
    for line in (json.loads(text) for text in lines if text.startswith("{") and '"_aws"' in text):
        for directive in line["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                values = line[metric["Name"]]
                for value in values if isinstance(values, list) else [values]:
                    for dimensions in directive["Dimensions"]:
                        client.put_metric_data(
                            Namespace=directive["Namespace"],
                            MetricData=[
                                {
                                    "MetricName": metric["Name"],
                                    "Dimensions": [{"Name": name, "Value": line[name]} for name in dimensions],
                                    "Value": float(value),
                                    "Unit": metric["Unit"],
                                    "Timestamp": when,
                                }
                            ],
                        )


def test_the_figures_from_cloudwatch_are_those_of_the_same_requests_captured(recorded, challenger_models):
    folder, lines = recorded
    now = datetime.now(UTC)
    with mock_aws():
        # Given the service's metric lines for the requests, as CloudWatch holds them
        client = boto3.client("cloudwatch", region_name="eu-west-1")
        put_emf_lines(client, lines, now - timedelta(minutes=5))
        # When the report reads them for the challenger of the deployed manifest
        window = MetricsWindow(metrics_namespace(), service_name(), now - timedelta(hours=1), now)
        (figures,) = from_cloudwatch(client, window, read_manifest(challenger_models))
    # Then the pairs of labels, and so every figure but the scores', are those of the capture records
    (captured,) = from_captures(str(folder))
    assert figures.labels == captured.labels
    assert figures.pairs.tolist() == captured.pairs.tolist()
    assert (figures.requests, figures.errors, figures.skipped) == (45, 0, 0)
    assert figures.kappa == captured.kappa
    assert np.isnan(figures.score_divergence)
    manifest = read_manifest(challenger_models)
    assert (figures.champion_version, figures.challenger_version) == (
        manifest.models["sklearn"].sha256[:12],
        manifest.challengers["sklearn"].sha256[:12],
    )


def gate(tmp_path: Path, min_rows: int = 10, min_agreement: float = 0.0, min_kappa: float = 0.0) -> Path:
    path = tmp_path / "challenger_gate.toml"
    path.write_text(GATE.format(min_rows=min_rows, min_agreement=min_agreement, min_kappa=min_kappa))
    return path


def run_report(folder: Path, gate_file: Path, out: Path, capsys) -> tuple[str, dict[str, Any]]:
    assert main(["--capture", str(folder), "--gate", str(gate_file), "--out", str(out)]) == 0
    return capsys.readouterr().out, json.loads((out / "sklearn.json").read_text())


def test_a_challenger_with_enough_rows_meeting_every_threshold_is_ready(recorded, tmp_path, capsys):
    folder, _ = recorded
    printed, verdict = run_report(folder, gate(tmp_path), tmp_path / "out", capsys)
    assert "verdict: ready to promote" in printed
    assert "Cohen's kappa" in printed
    assert verdict["verdict"] == "ready"
    assert datetime.fromisoformat(verdict["generated_at"].replace("Z", "+00:00")).tzinfo is not None
    assert verdict["champion_version"] != verdict["challenger_version"]
    assert set(verdict) >= {"model", "reason", "rows", "kappa", "agreement", "flips", "added_ms_p99"}


def test_too_few_rows_is_not_yet_saying_how_many(recorded, tmp_path, capsys):
    folder, _ = recorded
    (figures,) = from_captures(str(folder))
    printed, verdict = run_report(folder, gate(tmp_path, min_rows=100_000), tmp_path / "out", capsys)
    assert verdict["verdict"] == "not yet"
    assert verdict["reason"] == f"{figures.rows:,} of 100,000 rows compared"
    assert f"verdict: not yet: {figures.rows:,} of 100,000 rows compared" in printed


def test_a_kappa_below_the_threshold_is_refused_naming_it(recorded, tmp_path, capsys):
    folder, _ = recorded
    (figures,) = from_captures(str(folder))
    printed, verdict = run_report(folder, gate(tmp_path, min_kappa=0.999), tmp_path / "out", capsys)
    assert figures.kappa < 0.999
    assert f"verdict: refused: kappa {figures.kappa:.2f} below 1.00" in printed
    assert verdict["verdict"] == "refused"
    assert verdict["reason"] == f"kappa {figures.kappa:.2f} below 1.00"


def test_a_gate_without_an_online_table_is_one_line_naming_it(tmp_path, recorded, capsys):
    path = tmp_path / "gate.toml"
    path.write_text("[offline]\nmargin = 0.1\nconfidence = 0.95\nresamples = 100\n")
    with pytest.raises(OnlineRuleError, match=r"has no \[online\] table"):
        OnlineRule.read(path)
    assert main(["--capture", str(recorded[0]), "--gate", str(path), "--out", str(tmp_path / "out")]) == 1
    (error,) = capsys.readouterr().err.splitlines()
    assert error.startswith("shadow-report: ")
    assert "[online]" in error


def test_capture_records_without_a_shadowed_request_say_so(tmp_path, capsys):
    (tmp_path / "records").write_text(json.dumps({"captureData": {}, "eventMetadata": {"eventId": "x"}}) + "\n")
    assert main(["--capture", str(tmp_path), "--out", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == f"shadow-report: no shadowed request in the capture records at {tmp_path}\n"


def test_the_committed_gate_files_online_thresholds_read():
    rule = OnlineRule.read()
    assert rule.min_rows >= 1
    assert 0 < rule.min_kappa <= 1
