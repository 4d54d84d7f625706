"""`sam deploy` through one runner (the seam the tests record), and CodeDeploy's side of a deployment: each
function's deployments read back with the versions they moved `live` between, waited for, reported, or stopped."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import yaml

from scripts.project import REPO, template
from scripts.release.aws import MODEL_SOURCE, Aws, Function, Stack, read_stack

# CodeDeploy's statuses of a deployment that has not ended.
ACTIVE_STATUSES = ("Created", "Queued", "InProgress", "Baking", "Ready")
ALARM_ACTIVE = "ALARM_ACTIVE"
ACTIVATED_ALARMS = "Activated alarms:"
WAIT_TIMEOUT_S = 3600
POLL_INTERVAL_S = 15


class DeployError(RuntimeError):
    """A deployment failed, was rolled back, or did not end in time."""


class SamRunner(Protocol):
    """Runs a SAM CLI command line and returns its exit status."""

    def run(self, argv: Sequence[str]) -> int: ...


class SubprocessRunner:
    """The SAM CLI of this venv, run in the project folder (so samconfig.toml applies), its output on the terminal."""

    def run(self, argv: Sequence[str]) -> int:
        return subprocess.run(list(argv), cwd=REPO, check=False).returncode


@dataclass
class Clock:
    """Time for the waits: real by default; the tests give one that never sleeps."""

    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic
    timeout_s: float = WAIT_TIMEOUT_S
    interval_s: float = POLL_INTERVAL_S


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parameter_overrides(parameters: Mapping[str, str]) -> str:
    """SAM CLI's --parameter-overrides for these values, each quoted (an empty value, a list with commas)."""
    return " ".join(f"{name}={_quoted(value)}" for name, value in parameters.items())


def deploy_parameters(stack: Stack, model_source: str) -> dict[str, str]:
    """Every parameter the template declares, as the stack has it (the template's default when the stack predates
    it), with model_source for ModelSource."""
    declared = template()["Parameters"]
    values = {name: stack.parameters.get(name, str(spec.get("Default", ""))) for name, spec in declared.items()}
    values[MODEL_SOURCE] = model_source
    return values


def sam_deploy_command(stack: Stack, model_source: str, region: str | None) -> list[str]:
    """`sam deploy` of the built application to stack with model_source, every other parameter kept: no change set
    to confirm, and an update with nothing to change is not a failure."""
    argv = ["sam", "deploy", "--stack-name", stack.name]
    if region:
        argv += ["--region", region]
    overrides = parameter_overrides(deploy_parameters(stack, model_source))
    return [*argv, "--no-confirm-changeset", "--no-fail-on-empty-changeset", "--parameter-overrides", overrides]


@dataclass(frozen=True)
class Deployment:
    """One CodeDeploy deployment of a function's alias, and how it ended (or that it has not)."""

    id: str
    route: str
    status: str
    created: datetime
    current_version: str | None
    target_version: str | None
    error_code: str = ""
    error_message: str = ""
    rollback_message: str = ""

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def alarms(self) -> tuple[str, ...]:
        """The alarms that stopped it, as CodeDeploy names them in its error."""
        if self.error_code != ALARM_ACTIVE:
            return ()
        _, _, names = self.error_message.partition(ACTIVATED_ALARMS)
        return tuple(name.strip() for name in names.split(",") if name.strip())

    @property
    def moves(self) -> str:
        return f"live {self.current_version} -> {self.target_version}"

    def outcome(self) -> str:
        if self.status == "Succeeded":
            return f"succeeded ({self.moves})"
        if self.active:
            return f"{self.status} ({self.moves})"
        if self.alarms:
            return f"rolled back by alarm {', '.join(self.alarms)} (live stays at {self.current_version})"
        reason = self.error_message or self.rollback_message or "no reason given"
        return f"{self.status.lower()}: {reason} (live stays at {self.current_version})"


def _appspec_versions(aws: Aws, application: str, revision: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The versions the deployment's AppSpec moves the alias between. GetDeployment never returns the AppSpec's
    content; GetApplicationRevision does."""
    answered = aws.codedeploy.get_application_revision(applicationName=application, revision=revision)["revision"]
    content = (answered.get("appSpecContent") or answered.get("string") or {}).get("content")
    if not content:
        return None, None
    (properties,) = (
        resource["Properties"] for entry in yaml.safe_load(content)["Resources"] for resource in entry.values()
    )
    current, target = properties.get("CurrentVersion"), properties.get("TargetVersion")
    return (None if current is None else str(current)), (None if target is None else str(target))


def describe_deployment(aws: Aws, function: Function, deployment_id: str) -> Deployment:
    info = aws.codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    current, target = _appspec_versions(aws, info["applicationName"], info["revision"])
    error, rollback = info.get("errorInformation") or {}, info.get("rollbackInfo") or {}
    return Deployment(
        id=deployment_id,
        route=function.route,
        status=info["status"],
        created=info["createTime"],
        current_version=current,
        target_version=target,
        error_code=error.get("code", ""),
        error_message=error.get("message", ""),
        rollback_message=rollback.get("rollbackMessage", ""),
    )


def deployments(
    aws: Aws, stack: Stack, function: Function, since: datetime | None = None, statuses: Sequence[str] = ()
) -> list[Deployment]:
    """The function's deployments, oldest first: those created since `since`, in `statuses`, when given."""
    query: dict[str, Any] = {"applicationName": stack.application, "deploymentGroupName": function.deployment_group}
    if since is not None:
        query["createTimeRange"] = {"start": since}
    if statuses:
        query["includeOnlyStatuses"] = list(statuses)
    ids: list[str] = []
    while True:
        page = aws.codedeploy.list_deployments(**query)
        ids.extend(page.get("deployments", []))
        if not page.get("nextToken"):
            break
        query["nextToken"] = page["nextToken"]
    return sorted((describe_deployment(aws, function, one) for one in ids), key=lambda deployment: deployment.created)


@dataclass
class Waited:
    """Each function's deployments since the deploy began, once none is active."""

    by_route: dict[str, list[Deployment]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        lines = []
        for route, found in self.by_route.items():
            if not found:
                lines.append(f"/{route}: no deployment (nothing in the function changed)")
            lines.extend(f"/{route}: deployment {one.id} {one.outcome()}" for one in found)
        return lines

    @property
    def failed(self) -> list[Deployment]:
        return [one for found in self.by_route.values() for one in found if one.status != "Succeeded"]


def deployment_ids(aws: Aws, stack: Stack, since: datetime) -> set[str]:
    """The ids of every function's deployments created since `since`."""
    return {one.id for function in stack.functions for one in deployments(aws, stack, function, since)}


def wait_for_deployments(aws: Aws, stack: Stack, since: datetime, clock: Clock, before: set[str]) -> Waited:
    """Every function's deployments created since `since` but not among `before` (those of this deploy), polled
    until none is active; a DeployError after the clock's timeout."""
    deadline = clock.monotonic() + clock.timeout_s
    while True:
        waited = Waited(
            {
                function.route: [one for one in deployments(aws, stack, function, since) if one.id not in before]
                for function in stack.functions
            }
        )
        still = [one for found in waited.by_route.values() for one in found if one.active]
        if not still:
            return waited
        if clock.monotonic() >= deadline:
            raise DeployError(f"deployment {still[0].id} of /{still[0].route} is still {still[0].status}")
        clock.sleep(clock.interval_s)


def stop_active_deployments(aws: Aws, stack: Stack) -> list[Deployment]:
    """Stop every deployment of the stack's functions that has not ended, CodeDeploy moving each alias back."""
    stopped = []
    for function in stack.functions:
        for deployment in deployments(aws, stack, function, statuses=ACTIVE_STATUSES):
            aws.codedeploy.stop_deployment(deploymentId=deployment.id, autoRollbackEnabled=True)
            stopped.append(deployment)
    return stopped


def wait_until_settled(aws: Aws, stack_name: str, clock: Clock) -> Stack:
    """The stack once CloudFormation has finished with it (an update stopped with its deployment rolls back)."""
    deadline = clock.monotonic() + clock.timeout_s
    while (stack := read_stack(aws, stack_name)).busy:
        if clock.monotonic() >= deadline:
            raise DeployError(f"stack {stack_name} is still {stack.status}")
        clock.sleep(clock.interval_s)
    return stack
