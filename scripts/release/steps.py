"""The steps of `make release` and `make rollback`, each one function, run in order; the first that fails stops the
run with one line naming the step and why. A dry run prints every command and parameter and changes nothing."""

from __future__ import annotations

import base64
import hashlib
import re
import shlex
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kyber.errors import ModelArtifactError
from kyber.manifest import MANIFEST_FILE, Manifest, read_manifest, sha256_of
from scripts.deploy.smoke import ApiUnderTest, CaseResult, KnownAnswer, StackOutputsError, api_of_stack, run_smoke
from scripts.project import BUILD_DIR, MODELS_LAYER_SOURCE, REPO, built_models
from scripts.release.aws import Aws, Stack, StackError, read_stack
from scripts.release.deploy import (
    ACTIVE_STATUSES,
    Clock,
    DeployError,
    SamRunner,
    deployment_ids,
    deployments,
    sam_deploy_command,
    stop_active_deployments,
    wait_for_deployments,
    wait_until_settled,
)
from scripts.release.history import Release, Version, history, live_version, previous_served, release_models
from scripts.release.known_answers import KnownAnswerError, known_answers
from scripts.release.store import ReleaseStoreError, download_release, plan_upload, release_uri, upload

ARTIFACTS = REPO / MODELS_LAYER_SOURCE / "artifacts"
DEFAULT_PREFIX = "releases"
# A deployment counts as this run's when CodeDeploy created it after the run began, less this allowance for the
# difference between this machine's clock and AWS's.
CLOCK_ALLOWANCE = timedelta(seconds=60)
Builder = Callable[[Path, Path], object]
Smoke = Callable[[ApiUnderTest, Mapping[str, KnownAnswer] | None], list[CaseResult]]


class StepError(Exception):
    """A step failed: the run stops here."""

    def __init__(self, step: str, reason: str) -> None:
        super().__init__(f"{step}: {reason}")
        self.step = step
        self.reason = reason


def _failures() -> tuple[type[BaseException], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    from model_build.contract import ModelsLayerError
    from model_build.evaluation import EvaluationDataError
    from model_build.gate import QualityGateError

    return (
        ReleaseStoreError,
        StackError,
        StackOutputsError,
        DeployError,
        KnownAnswerError,
        ModelArtifactError,
        ModelsLayerError,
        EvaluationDataError,
        QualityGateError,
        BotoCoreError,
        ClientError,
        ValueError,
        OSError,
    )


@contextmanager
def step(name: str) -> Iterator[None]:
    """Turns what a step may fail with into StepError(name, the error's first line)."""
    try:
        yield
    except StepError:
        raise
    except _failures() as error:
        raise StepError(name, str(error).splitlines()[0] if str(error) else type(error).__name__) from error


def default_build(source: Path, out: Path) -> object:
    """The models layer built from source into out with every gate: parity, quality and serving cost."""
    from model_build.layer import build

    return build(source, out)


@dataclass
class Tools:
    """What the steps act through: AWS's clients, the `sam` runner, the smoke check, the clock, the models build
    and where lines are printed. The tests give moto's clients, fakes and a recording runner."""

    aws: Aws
    runner: SamRunner
    smoke: Smoke = run_smoke
    clock: Clock = field(default_factory=Clock)
    build: Builder = default_build
    out: Callable[[str], None] = print
    # The project whose `sam build` output `sam deploy` deploys.
    project: Path = REPO


@dataclass(frozen=True)
class ReleaseRequest:
    stack: str
    bucket: str
    prefix: str = DEFAULT_PREFIX
    region: str | None = None
    source: Path = ARTIFACTS
    dry_run: bool = False


def models_line(manifest: Manifest) -> str:
    return ", ".join(
        f"{name} {entry.sha256[:12]} accuracy {entry.evaluation.accuracy:.4f} lowest recall "
        f"{entry.evaluation.lowest_recall:.4f}"
        for name, entry in manifest.models.items()
    )


def build_release(tools: Tools, source: Path, out: Path) -> tuple[Manifest, dict[str, KnownAnswer]]:
    """Step 1: the models layer built from the delivery with every gate, and the answers its sample events get."""
    tools.build(source, out)
    manifest = read_manifest(out)
    answers = known_answers(out)
    tools.out(f"build: {source} -> {len(manifest.models)} models ({models_line(manifest)}); gates passed")
    for route, answer in answers.items():
        tools.out(f"build: POST /{route}'s sample event must get {list(answer.prediction)} from {answer.model}")
    return manifest, answers


def live_releases(tools: Tools, stack: Stack) -> dict[str, Release]:
    """Per route, what the version `live` points to serves."""
    versions = history(tools.aws, stack)
    found = {route: live_version(found) for route, found in versions.items()}
    missing = [route for route, version in found.items() if version is None]
    if missing:
        raise StackError(f"no alias live on the function of /{missing[0]}")
    return {route: version.release for route, version in found.items() if version is not None}


def judge_against_live(new: Manifest, new_dir: Path, live_dir: Path, source: Path) -> list[str]:
    """The new models against those live serves, each on the new delivery's evaluation rows, by the challenger gate's
    non-inferiority rule (model_build.compare, as a challenger against its champion); a model whose ONNX file is
    live's already is unchanged. Raises ChallengerGateError, which stops the release, for a model the rule refuses."""
    from model_build.challenger import served_scores
    from model_build.compare import OfflineRule, compare
    from model_build.contract import FEATURE_COUNT
    from model_build.evaluation import EVALUATION_FILE, read_evaluation_data

    live = read_manifest(live_dir)
    if live.labels != new.labels:
        return [
            f"compare: live's labels {list(live.labels)} are not the new {list(new.labels)}: the models are not"
            " compared; the absolute quality gate alone decides, which every new model passed"
        ]
    rule = OfflineRule.read()
    data = read_evaluation_data(source / EVALUATION_FILE, new.labels, FEATURE_COUNT)
    lines = []
    for name, entry in new.models.items():
        served = live.models.get(name)
        if served is None or served.sha256 == entry.sha256:
            lines.append(f"compare: {name} {entry.sha256[:12]}: {'new' if served is None else 'unchanged, live'}")
            continue
        comparison = compare(
            name,
            data.target,
            new.labels,
            (served.sha256[:12], served_scores(live_dir, served, data.features)),
            (entry.sha256[:12], served_scores(new_dir, entry, data.features)),
            rule,
        )
        rule.check(comparison)
        lines.append(
            f"compare: {name} {entry.sha256[:12]} against live's {served.sha256[:12]} on {comparison.rows} rows: "
            f"{comparison.summary()}; within the margin -{rule.margin:.2f} of {rule.source.name}"
        )
    return lines


def compare_with_live(tools: Tools, stack: Stack, new: Manifest, new_dir: Path, source: Path) -> None:
    """Step 2: what live serves now, read back from AWS, and the new models held against it."""
    releases = live_releases(tools, stack)
    keys = {release.key for release in releases.values()}
    if len(keys) > 1:
        listed = ", ".join(f"/{route} {release.short}" for route, release in releases.items())
        tools.out(
            f"compare: the functions' live versions serve different releases ({listed}); compared with /sklearn's"
        )
    live = next(iter(releases.values()))
    served = live.uri or f"the layer's built-in models ({live.short})"
    tools.out(f"compare: live serves {served}: {release_models(tools.aws, live)}")
    tools.out(f"compare: the new models: {models_line(new)}")
    if not live.uri:
        from model_build.gate import QualityGate

        # A layer's files come back only through a URL Lambda signs for the account that owns it: not read here.
        gate = QualityGate.read()
        thresholds = f"accuracy >= {gate.min_accuracy:.2f}, lowest recall >= {gate.min_lowest_recall:.2f}"
        tools.out(
            f"compare: verdict by the absolute quality gate alone ({gate.source.name}: {thresholds}), which every new"
            " model passed; the models built into the layer are not read back to compare with"
        )
        return
    with tempfile.TemporaryDirectory(prefix="kyber-live-") as work:
        live_dir = download_release(tools.aws, live.uri, Path(work) / "live")
        for line in judge_against_live(new, new_dir, live_dir, source):
            tools.out(line)


def upload_release(tools: Tools, request: ReleaseRequest, models_dir: Path) -> str:
    """Step 3: the release in S3 under its manifest's SHA-256: uploaded, or reused when it is there already."""
    uri = release_uri(request.bucket, request.prefix, models_dir)
    plan = plan_upload(tools.aws, models_dir, uri)
    if request.dry_run and plan.missing:
        tools.out(f"upload: would upload {plan.summary()}: {', '.join(plan.missing)}")
        return uri
    upload(tools.aws, models_dir, plan)
    tools.out(f"upload: {plan.summary()}")
    return uri


def deploy_release(tools: Tools, stack: Stack, target: Release, region: str | None, dry_run: bool) -> Stack:
    """Step 4: `sam deploy` with the target's ModelSource, every other parameter as the stack has it; then each
    function's CodeDeploy deployment waited for and reported. Stops when one did not succeed or sam deploy failed."""
    model_source = target.uri
    argv = sam_deploy_command(stack, model_source, region)
    releases = live_releases(tools, stack)
    if stack.model_source == model_source and all(release.key == target.key for release in releases.values()):
        tools.out(f"deploy: the stack and every live version serve {target.uri or target.layer}: nothing to deploy")
        return stack
    if dry_run:
        tools.out(f"deploy: would run: {shlex.join(argv)}")
        tools.out(
            f"deploy: would wait for the CodeDeploy deployments of {', '.join(f.logical_id for f in stack.functions)}"
        )
        return stack
    if not (tools.project / BUILD_DIR / "template.yaml").is_file():
        raise StepError("deploy", f"no `sam build` output in {tools.project / BUILD_DIR}: run make build first")
    since = datetime.now(UTC) - CLOCK_ALLOWANCE
    before = deployment_ids(tools.aws, stack, since)
    tools.out(f"deploy: {shlex.join(argv)}")
    status = tools.runner.run(argv)
    settled = wait_until_settled(tools.aws, stack.name, tools.clock)
    waited = wait_for_deployments(tools.aws, settled, since, tools.clock, before)
    for line in waited.lines():
        tools.out(f"deploy: {line}")
    if waited.failed:
        # The deployment an alarm stopped is the cause; the others stopped as the stack update rolled back.
        first = next((one for one in waited.failed if one.alarms), waited.failed[0])
        raise StepError("deploy", f"/{first.route}'s deployment {first.id} {first.outcome()}")
    if status != 0:
        raise StepError("deploy", f"sam deploy exited {status} (its output above)")
    if settled.model_source != model_source:
        raise StepError(
            "deploy", f"the stack's ModelSource is {settled.model_source!r} after the update, not {model_source!r}"
        )
    return settled


def smoke_check(tools: Tools, stack: Stack, answers: Mapping[str, KnownAnswer] | None, dry_run: bool) -> None:
    """Step 5: the smoke cases against the stack's API, each route's answer compared with the release's own."""
    api = api_of_stack(stack.name, tools.aws.cloudformation, tools.aws.apigateway)
    compared = "compared with the release's known answers" if answers else "(no known answers: the plain checks)"
    if dry_run:
        tools.out(f"smoke: would run the smoke cases against {api.url}, {compared}")
        return
    tools.out(f"smoke: the smoke cases against {api.url}, {compared}")
    results = tools.smoke(api, answers)
    for result in results:
        tools.out(f"smoke: {result.line()}")
    failed = [result.case for result in results if result.passed is False]
    if failed:
        raise StepError("smoke", f"{len(failed)} case(s) failed: {'; '.join(failed)}")


def release(tools: Tools, request: ReleaseRequest) -> None:
    """`make release`: build, compare, upload, deploy, smoke; StepError at the first step that fails."""
    prefix = "dry run: nothing is uploaded, deployed or changed" if request.dry_run else None
    if prefix:
        tools.out(prefix)
    with tempfile.TemporaryDirectory(prefix="kyber-release-") as work:
        models_dir = Path(work) / "models"
        with step("build"):
            manifest, answers = build_release(tools, request.source, models_dir)
        with step("compare"):
            stack = read_stack(tools.aws, request.stack)
            compare_with_live(tools, stack, manifest, models_dir, request.source)
        with step("upload"):
            uri = upload_release(tools, request, models_dir)
        with step("deploy"):
            stack = deploy_release(tools, stack, Release(uri=uri, layer=""), request.region, request.dry_run)
        with step("smoke"):
            smoke_check(tools, stack, answers, request.dry_run)
    tools.out(f"release: {uri} is live" if not request.dry_run else f"dry run: the release would be {uri}")


@dataclass(frozen=True)
class RollbackRequest:
    stack: str
    region: str | None = None
    # A release's URI or the start of its hash (12 hex digits at least), "layer", or a version number; None: the
    # release that served before the current one.
    to: str | None = None
    dry_run: bool = False


HEX_NAME = re.compile(r"[0-9a-f]{12,64}")


def _agreed(found: dict[str, Release | None], what: str) -> Release:
    releases = {release.key: release for release in found.values() if release is not None}
    if not releases:
        raise StepError("target", f"no function has {what}")
    if len(releases) > 1:
        listed = ", ".join(f"/{route} {release.short if release else 'none'}" for route, release in found.items())
        raise StepError("target", f"the functions disagree on {what} ({listed}): give TO=<release>")
    return next(iter(releases.values()))


def _newest(versions: list[Version], matches: Callable[[Release], bool]) -> Release | None:
    return next((version.release for version in versions if matches(version.release)), None)


def resolve_target(versions: dict[str, list[Version]], to: str | None, deploying: bool) -> Release:
    """The release to go back to: to's, or by default the one that served before the current one. While a
    deployment is under way, the current one is the release it deploys, so the default is what live serves."""
    if to is None:
        chosen = live_version if deploying else previous_served
        found = {route: (version.release if (version := chosen(found)) else None) for route, found in versions.items()}
        return _agreed(found, "an earlier release that served")
    if to.isdigit():
        at = {route: next((v.release for v in found if v.number == int(to)), None) for route, found in versions.items()}
        return _agreed(at, f"a version {to}")
    if to == "layer":
        return _agreed({r: _newest(found, lambda release: not release.uri) for r, found in versions.items()}, "a layer")
    if to.startswith("s3://"):
        return Release(uri=to if to.endswith("/") else to + "/", layer="")
    if HEX_NAME.fullmatch(to):

        def named(release: Release) -> bool:
            return bool(release.uri) and release.uri.rstrip("/").rsplit("/", 1)[-1].startswith(to)

        return _agreed({route: _newest(found, named) for route, found in versions.items()}, f"a release {to}")
    raise StepError("target", f"TO={to!r} is neither a release (s3://... or 12+ hex digits), `layer`, nor a version")


def built_layer_code_sha256(project: Path) -> str:
    """The CodeSha256 Lambda would give the models layer `sam deploy` uploads from this build: SAM zips a layer's
    folder the same way every time (no timestamps), so the same files give the same zip."""
    from samcli.lib.package.utils import make_zip

    folder = built_models(project).parent
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(make_zip(str(Path(scratch) / "layer"), str(folder)))
        return base64.b64encode(hashlib.sha256(archive.read_bytes()).digest()).decode()


def target_answers(tools: Tools, target: Release, work: Path) -> dict[str, KnownAnswer]:
    """The known answers of the release rolled back to: from its files in S3, or, for the models layer, from this
    build's layer once it is the very layer the target served (a different one would not be a rollback)."""
    if target.uri:
        return known_answers(download_release(tools.aws, target.uri, work / "models"))
    name, version = target.layer.rsplit(":", 2)[-2:]
    served = tools.aws.functions.get_layer_version(LayerName=name, VersionNumber=int(version))["Content"]["CodeSha256"]
    built = built_layer_code_sha256(tools.project)
    if built != served:
        raise StepError(
            "target",
            f"{target.short} is not the models layer this checkout's build would deploy (CodeSha256 {served}, the "
            f"build's {built}): build those artifacts, or roll back to an S3 release",
        )
    manifest = built_models(tools.project) / MANIFEST_FILE
    tools.out(
        f"target: this build's models layer is {target.short}, byte for byte (manifest {sha256_of(manifest)[:12]})"
    )
    return known_answers(built_models(tools.project))


def stop_deployments(tools: Tools, stack: Stack, dry_run: bool) -> Stack:
    """Stop any deployment still under way and wait for CloudFormation to settle the stack."""
    if dry_run:
        tools.out("stop: would stop any CodeDeploy deployment still under way (none is changed in a dry run)")
        return stack
    stopped = stop_active_deployments(tools.aws, stack)
    for deployment in stopped:
        tools.out(f"stop: stopped /{deployment.route}'s deployment {deployment.id} ({deployment.moves}), rolled back")
    if not stopped:
        tools.out("stop: no CodeDeploy deployment under way")
    return wait_until_settled(tools.aws, stack.name, tools.clock)


def rollback(tools: Tools, request: RollbackRequest) -> None:
    """`make rollback`: stop a deployment under way, deploy the target release through `sam deploy`, smoke-check."""
    if request.dry_run:
        tools.out("dry run: nothing is stopped, deployed or changed")
    with step("target"):
        stack = read_stack(tools.aws, request.stack)
        deploying = any(deployments(tools.aws, stack, f, statuses=ACTIVE_STATUSES) for f in stack.functions)
        target = resolve_target(history(tools.aws, stack), request.to, deploying)
        tools.out(f"target: {target.uri or target.layer} ({release_models(tools.aws, target)})")
    with tempfile.TemporaryDirectory(prefix="kyber-rollback-") as work, step("target"):
        answers = target_answers(tools, target, Path(work))
    with step("stop"):
        stack = stop_deployments(tools, stack, request.dry_run)
    with step("deploy"):
        stack = deploy_release(tools, stack, target, request.region, request.dry_run)
    with step("smoke"):
        smoke_check(tools, stack, answers, request.dry_run)
    tools.out(f"rollback: {target.uri or target.short} is live" if not request.dry_run else "dry run: done")
