"""`make release`, `make releases` and `make rollback` against a stack on moto (tests/support/release_world.py: moto's
S3, Lambda, CloudFormation and API Gateway; a fake CodeDeploy with the same boto3 calls, as moto's lacks
stop_deployment and keeps every deployment `Created`), `sam deploy` through a runner that records its command lines,
and the smoke check over HTTP against a stand-in gateway in front of the real handlers."""

from __future__ import annotations

import copy
import logging
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import boto3
import joblib
import pytest
from moto import mock_aws
from samcli.cli.types import CfnParameterOverridesType

from kyber.manifest import MANIFEST_FILE, sha256_of
from model_build.gate import QualityGate
from model_build.layer import LayerBuild, build
from scripts.project import routes, template
from scripts.release.__main__ import run
from scripts.release.deploy import Clock
from scripts.release.steps import Tools, default_build
from tests.support.challenger_deliveries import as_good, fitted_on_few_rows
from tests.support.gateway import StandInGateway
from tests.support.release_world import (
    BUCKET,
    KEY,
    REGION,
    STACK,
    DeployedStack,
    RecordingSamDeploy,
    deployed_stack,
)
from tests.support.service import DEFAULT_ARTIFACTS, TEST_ENVIRONMENT


def never_sleeps(seconds: float) -> None:
    raise AssertionError(f"waited {seconds} s: every deployment in these tests has ended when it is read")


@dataclass
class Run:
    """A command's exit status and what it printed, line by line (stdout) and on stderr."""

    status: int
    lines: list[str]
    error: str


@dataclass
class Release:
    world: DeployedStack
    runner: RecordingSamDeploy
    tools: Tools
    capsys: pytest.CaptureFixture[str]

    def run(self, *argv: str) -> Run:
        printed: list[str] = []
        self.tools.out = printed.append
        status = run([argv[0], "--stack", STACK, "--region", REGION, *argv[1:]], self.tools)
        result = Run(status, printed, self.capsys.readouterr().err.strip())
        # Shown by `pytest -s` and with a failure: docs/deployment.md quotes these runs.
        with self.capsys.disabled():
            print("\n".join([f"$ python -m scripts.release {' '.join(argv)}", *printed, result.error]))
        return result

    def release(self, *extra: str) -> Run:
        return self.run("release", "--bucket", BUCKET, *extra)


def copy_of(folder: Path) -> Callable[[Path, Path], object]:
    """The session's build of the default models, as the build step would write it again (reused, not rebuilt)."""

    def build(source: Path, out: Path) -> object:
        assert source == DEFAULT_ARTIFACTS
        return shutil.copytree(folder, out)

    return build


@pytest.fixture
def stack(
    tmp_path: Path,
    default_layer: tuple[Path, LayerBuild],
    handler_module: Callable[[str], ModuleType],
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Release]:
    """The stack as its first `sam deploy` left it, its API a stand-in gateway in front of the handlers serving the
    default models, and `make release` reusing the session's build of them."""
    gateway = StandInGateway({route: handler_module(route).lambda_handler for route in routes()}, KEY)
    # The handlers answer from the gateway's threads, after this test's captured output may be closed.
    service_logger = logging.getLogger(TEST_ENVIRONMENT["POWERTOOLS_SERVICE_NAME"])
    level = service_logger.level
    service_logger.setLevel(logging.WARNING)
    with mock_aws():
        world = deployed_stack(tmp_path / "project", default_layer[0], gateway.url, [])
        runner = RecordingSamDeploy(world)
        tools = Tools(
            aws=world.aws,
            runner=runner,
            clock=Clock(sleep=never_sleeps),
            build=copy_of(default_layer[0]),
            project=world.project,
        )
        capsys.readouterr()
        yield Release(world, runner, tools, capsys)
    gateway.close()
    service_logger.setLevel(level)


def delivery(folder: Path, evaluation_rows: slice = slice(None), shift_labels: bool = False) -> Path:
    """The default delivery with another evaluation.csv: some of its rows, or every label moved to the next one."""
    shutil.copytree(DEFAULT_ARTIFACTS, folder)
    header, *rows = (DEFAULT_ARTIFACTS / "evaluation.csv").read_text().splitlines()
    labels = ["blue", "green", "yellow"]
    if shift_labels:
        rows = [f"{row.rsplit(',', 1)[0]},{labels[(labels.index(row.rsplit(',', 1)[1]) + 1) % 3]}" for row in rows]
    (folder / "evaluation.csv").write_text("\n".join([header, *rows[evaluation_rows]]) + "\n")
    return folder


def release_of(models_dir: Path) -> str:
    return f"s3://{BUCKET}/releases/{sha256_of(models_dir / MANIFEST_FILE)}/"


def sam_parameters(command: list[str]) -> dict[str, str]:
    """The parameters SAM CLI's own parser reads from a recorded `sam deploy` command line."""
    parsed: dict[str, str] = CfnParameterOverridesType().convert(
        command[command.index("--parameter-overrides") + 1], None, None
    )
    return parsed


def test_a_release_is_built_compared_uploaded_deployed_and_smoke_checked(stack: Release, built_models: Path) -> None:
    # Given the stack serving the models layer
    before = stack.world.parameters()
    # When the default delivery is released
    result = stack.release()
    # Then every step ran, the release is in S3 under its manifest's hash, and live serves it on every function
    assert result.status == 0, result.error
    uri = release_of(built_models)
    assert [line.split(":")[0] for line in result.lines if line.split(":")[0] != "build"] == [
        "compare",
        "compare",
        "compare",
        "upload",
        "deploy",
        *["deploy"] * len(routes()),
        "smoke",
        *["smoke"] * (len(routes()) + 2),
        "release",
    ]
    assert "the layer's built-in models (layer ModelsLayer:1)" in result.lines[len(routes()) + 1]
    assert any("verdict by the absolute quality gate alone" in line for line in result.lines)
    assert stack.world.parameters() == {**before, "ModelSource": uri}
    assert {route: stack.world.live(route) for route in routes()} == dict.fromkeys(routes(), "2")
    # and `sam deploy` got every other parameter as the stack had it, as SAM CLI itself parses them
    (command,) = stack.runner.commands
    assert command[:6] == ["sam", "deploy", "--stack-name", STACK, "--region", REGION]
    assert "--no-confirm-changeset" in command
    assert sam_parameters(command) == {**before, "ModelSource": uri}
    assert set(sam_parameters(command)) == set(template()["Parameters"])
    # and each route answered what the release's ONNX files answer its sample event
    assert [line for line in result.lines if line.startswith("smoke: ok")][:3] == [
        f"smoke: ok       POST /{route} with the key: 200, the release's {model} answer: "
        + next(line for line in result.lines if line.startswith(f"smoke: ok       POST /{route}")).split(": ", 3)[3]
        for route, model in zip(routes(), ["sklearn", "pytorch", "sklearn"], strict=True)
    ]


def test_a_release_already_in_s3_is_reused_and_one_already_live_is_not_deployed_again(stack: Release) -> None:
    assert stack.release().status == 0
    objects = stack.world.snapshot()["objects"]
    # When the same delivery is released again
    again = stack.release()
    # Then its files are reused as they are, and nothing is deployed
    assert again.status == 0, again.error
    assert any(line.endswith("file for file: reused") for line in again.lines)
    assert any("nothing to deploy" in line for line in again.lines)
    assert stack.world.snapshot()["objects"] == objects
    assert len(stack.runner.commands) == 1


def test_a_different_release_under_the_same_name_is_refused_before_any_deployment(
    stack: Release, built_models: Path
) -> None:
    # Given an object under the release's name whose bytes are not this release's
    uri = release_of(built_models)
    key = uri.removeprefix(f"s3://{BUCKET}/") + "sklearn.onnx"
    stack.world.aws.s3.put_object(Bucket=BUCKET, Key=key, Body=b"another model")
    before = stack.world.snapshot()
    # When the delivery is released
    result = stack.release()
    # Then the upload step refuses it, and nothing else changes
    assert result.status == 1
    assert result.error == (
        f"release stopped at upload: s3://{BUCKET}/{key} differs from this release's sklearn.onnx: refused, "
        "a release is never changed in place"
    )
    assert stack.world.snapshot() == before
    assert stack.runner.commands == []


def test_a_delivery_below_the_quality_gate_stops_the_release_before_anything_is_uploaded(
    stack: Release, tmp_path: Path
) -> None:
    # Given a delivery whose evaluation rows all name the wrong label
    stack.tools.build = default_build
    source = delivery(tmp_path / "delivery", shift_labels=True)
    before = stack.world.snapshot()
    # When it is released
    result = stack.release("--source", str(source))
    # Then the build step refuses it, naming the model and the gate, and nothing is uploaded or deployed
    assert result.status == 1
    assert result.error.startswith("release stopped at build: quality gate: model sklearn has accuracy 0.")
    assert "below the threshold 0.9000 set in quality_gate.toml" in result.error
    assert stack.world.snapshot() == before
    assert stack.runner.commands == []


def with_sklearn_model(folder: Path, model: object) -> Path:
    """The default delivery with another scikit-learn model."""
    shutil.copytree(DEFAULT_ARTIFACTS, folder)
    joblib.dump(model, folder / "sklearn.model")
    return folder


def test_a_new_model_is_compared_with_the_one_live_serves_on_the_same_rows(stack: Release, tmp_path: Path) -> None:
    # Given live serving a release of the default models from S3
    assert stack.release().status == 0
    stack.tools.build = default_build
    source = with_sklearn_model(tmp_path / "delivery", as_good())
    # When a delivery with another, as good, scikit-learn model is released (a dry run: the stand-in gateway serves
    # the default models whatever is deployed)
    result = stack.release("--dry-run", "--source", str(source))
    # Then the new scikit-learn model is compared with live's on the evaluation rows and passes the challenger
    # gate's rule; the PyTorch model is live's already
    assert result.status == 0, result.error
    compared = [line for line in result.lines if line.startswith("compare: sklearn ")]
    assert len(compared) == 1
    assert (
        " against live's a71ef3e8d5e2 on 45 rows: accuracy 0.9556, the champion 0.9333: difference +0.0222"
        in (compared[0])
    )
    assert compared[0].endswith("within the margin -0.10 of challenger_gate.toml")
    assert any(line.startswith("compare: pytorch ") and line.endswith(": unchanged, live") for line in result.lines)


def test_a_new_model_clearly_worse_than_live_stops_the_release_before_anything_is_uploaded(
    stack: Release, tmp_path: Path
) -> None:
    # Given live serving a release of the default models, and a build whose absolute gate lets a weak model through
    assert stack.release().status == 0
    stack.tools.build = lambda source, out: build(source, out, gate=QualityGate(0.5, 0.0, Path("lenient.toml")))
    source = with_sklearn_model(tmp_path / "delivery", fitted_on_few_rows())
    before = stack.world.snapshot()
    # When a delivery with a scikit-learn model fitted on five rows per label is released
    result = stack.release("--source", str(source))
    # Then the compare step refuses it, naming both accuracies and the margin, and nothing is uploaded or deployed
    assert result.status == 1
    assert result.error.startswith("release stopped at compare: challenger gate: challenger sklearn has accuracy 0.")
    assert result.error.endswith("below the margin -0.1000 set in challenger_gate.toml")
    assert stack.world.snapshot() == before
    assert len(stack.runner.commands) == 1


def test_a_deployment_rolled_back_by_an_alarm_is_reported_with_the_alarm(stack: Release) -> None:
    # Given a canary whose failures alarm fires on /pytorch
    stack.world.failing_route = "pytorch"
    # When a release is deployed
    result = stack.release()
    # Then the deploy step stops the release, naming the alarm; live stays on version 1 and ModelSource on the layer
    assert result.status == 1
    assert result.error.startswith("release stopped at deploy: /pytorch's deployment d-")
    assert result.error.endswith(f"rolled back by alarm {STACK}-Pytorch-RequestsFailed-version-2 (live stays at 1)")
    assert any(line.startswith("deploy: /sklearn: deployment d-") for line in result.lines)
    assert {route: stack.world.live(route) for route in routes()} == dict.fromkeys(routes(), "1")
    assert stack.world.parameters()["ModelSource"] == ""
    assert not any(line.startswith("smoke") for line in result.lines)


def test_a_dry_run_prints_the_plan_and_changes_nothing(stack: Release, built_models: Path) -> None:
    before = stack.world.snapshot()
    result = stack.release("--dry-run")
    assert result.status == 0, result.error
    assert stack.world.snapshot() == before
    assert stack.runner.commands == []
    uri = release_of(built_models)
    (would_run,) = [line for line in result.lines if line.startswith("deploy: would run: sam deploy")]
    assert f'ModelSource="{uri}"' in would_run
    files = sum(1 for path in built_models.rglob("*") if path.is_file())
    assert any(line.startswith(f"upload: would upload {files} files to {uri}") for line in result.lines)
    assert any(line.startswith("smoke: would run the smoke cases against http://127.0.0.1:") for line in result.lines)
    assert result.lines[-1] == f"dry run: the release would be {uri}"


def release_three(stack: Release, tmp_path: Path) -> list[str]:
    """Three releases of the default models, each measured on another share of the evaluation rows."""
    stack.tools.build = default_build
    uris = []
    for count in (45, 40, 35):
        source = delivery(tmp_path / f"delivery-{count}", evaluation_rows=slice(count))
        result = stack.release("--source", str(source))
        assert result.status == 0, result.error
        (line,) = [line for line in result.lines if line.startswith("release: ")]
        uris.append(line.removeprefix("release: ").removesuffix(" is live"))
    return uris


def test_the_history_lists_every_version_newest_first_with_its_release_and_deployment(
    stack: Release, tmp_path: Path
) -> None:
    # Given three releases after the stack's first deployment
    uris = release_three(stack, tmp_path)
    # When the history is printed
    result = stack.run("releases")
    # Then each function lists its four versions newest first, each with the release it serves, live on the last
    assert result.status == 0, result.error
    shorts = [uri.rstrip("/").rsplit("/", 1)[-1][:12] for uri in uris]
    for route in routes():
        start = next(index for index, line in enumerate(result.lines) if line.startswith(f"/{route}  "))
        rows = [line.split() for line in result.lines[start + 2 : start + 6]]
        assert [row[0] for row in rows] == ["4", "3", "2", "1"]
        assert rows[0][1] == "live"
        assert [row[4 if row[1] == "live" else 3] for row in rows] == [*reversed(shorts), "layer"]
        assert "succeeded (live 3 -> 4)" in result.lines[start + 2]
    # and each release with its models' versions and accuracy, from its manifest
    legend = result.lines[result.lines.index("releases") + 1 :]
    assert f"  {shorts[2]:22} {uris[2]}" in legend
    assert any("evaluation rows" not in line and "accuracy" in line and "(35 rows)" in line for line in legend)


def test_a_rollback_goes_back_to_the_release_before_and_twice_leaves_what_once_did(
    stack: Release, tmp_path: Path
) -> None:
    # Given three releases, the last live
    uris = release_three(stack, tmp_path)
    # When it is rolled back
    first = stack.run("rollback")
    after_once = stack.world.snapshot()
    # Then the one before is deployed through sam deploy, and answers the smoke cases as its files do
    assert first.status == 0, first.error
    assert sam_parameters(stack.runner.commands[-1])["ModelSource"] == uris[1]
    assert stack.world.parameters()["ModelSource"] == uris[1]
    assert first.lines[-1] == f"rollback: {uris[1]} is live"
    # When it is rolled back to that release again
    second = stack.run("rollback", "--to", uris[1])
    # Then nothing is deployed and nothing changes
    assert second.status == 0, second.error
    assert any("nothing to deploy" in line for line in second.lines)
    assert stack.world.snapshot() == after_once
    assert len(stack.runner.commands) == 4


def test_a_deployment_under_way_is_stopped_before_the_rollback_deploys(stack: Release, tmp_path: Path) -> None:
    # Given two releases, and a third whose deployment is still shifting traffic on /sklearn
    uris = release_three(stack, tmp_path)[:2]
    under_way = stack.world.start_deployment("sklearn", "s3://kyber-models/releases/" + "f" * 64 + "/")
    stack.world.events.clear()
    # When the stack is rolled back to the first release
    result = stack.run("rollback", "--to", uris[0].rstrip("/").rsplit("/", 1)[-1][:12])
    # Then the deployment is stopped (CodeDeploy rolling it back) before sam deploy runs
    assert result.status == 0, result.error
    assert stack.world.events == [f"stop_deployment {under_way} autoRollbackEnabled=True", "sam deploy"]
    assert stack.world.codedeploy.deployments[under_way]["status"] == "Stopped"
    assert sam_parameters(stack.runner.commands[-1])["ModelSource"] == uris[0]


def test_a_rollback_to_the_models_layer_needs_this_build_to_be_that_layer(stack: Release) -> None:
    # Given one release after the stack's first deployment (the models layer)
    assert stack.release().status == 0
    # When the build's layer has another manifest than the one the layer served
    layer_manifest = stack.world.project / ".aws-sam" / "build" / "ModelsLayer" / "models" / MANIFEST_FILE
    original = layer_manifest.read_bytes()
    layer_manifest.write_bytes(original + b"\n")
    refused = stack.run("rollback", "--dry-run")
    # Then the rollback is refused before anything is stopped or deployed
    assert refused.status == 1
    assert refused.error.startswith("rollback stopped at target: layer ModelsLayer:1 is not the models layer")
    # When the build is that layer again, the rollback deploys an empty ModelSource
    layer_manifest.write_bytes(original)
    result = stack.run("rollback")
    assert result.status == 0, result.error
    assert sam_parameters(stack.runner.commands[-1])["ModelSource"] == ""
    assert stack.world.parameters()["ModelSource"] == ""


def test_the_deployment_groups_are_named_as_sam_makes_them() -> None:
    """The logical ids read from the stack are those samtranslator gives a function's CodeDeploy resources."""
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    from scripts.cloudformation import language_extensions, parameter_values
    from scripts.project import resources
    from scripts.release.aws import DEPLOYMENT_APPLICATION, DEPLOYMENT_GROUP_SUFFIX

    expanded = language_extensions(copy.deepcopy(template()), {})
    for resource in expanded["Resources"].values():
        for uri in ("CodeUri", "ContentUri"):
            if uri in resource.get("Properties", {}):
                resource["Properties"][uri] = "s3://kyber-artifacts/package"  # where `sam package` puts it
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name=REGION))
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    translated = translator.translate(expanded, parameter_values(template(), {}), get_managed_policy_map=dict)
    made = {name: resource["Type"] for name, resource in translated["Resources"].items()}
    assert made[DEPLOYMENT_APPLICATION] == "AWS::CodeDeploy::Application"
    for function in resources("AWS::Serverless::Function"):
        assert made[function + DEPLOYMENT_GROUP_SUFFIX] == "AWS::CodeDeploy::DeploymentGroup"
