"""A deployed stack of this template on moto, for `make release`, `make releases` and `make rollback`: its three
functions with published versions and the alias live (moto's Lambda), its models layer, its parameters and outputs
(moto's CloudFormation), the releases bucket (moto's S3) and the API key (moto's API Gateway); and `sam deploy` as a
runner that records each command line, parses its parameters with SAM CLI's own parser, and does to moto what
CloudFormation and CodeDeploy would.

Two stand-ins where moto 5.2.5 lacks the calls: moto's CloudFormation makes no AWS::CodeDeploy resources, so
describe_stack_resource cannot name the deployment groups SAM makes (CloudFormationWithDeploymentGroups adds them);
and moto's CodeDeploy has no stop_deployment or get_application_revision, and keeps every deployment `Created`
with empty rollbackInfo and errorInformation, so FakeCodeDeploy answers the same boto3 calls with the statuses,
errors and AppSpec CodeDeploy gives a Lambda deployment."""

from __future__ import annotations

import io
import json
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from samcli.cli.types import CfnParameterOverridesType
from samcli.lib.package.utils import make_zip

from scripts.project import BUILD_DIR, built_models, function_variables, resources, routes, template
from scripts.release.aws import DEPLOYMENT_APPLICATION, DEPLOYMENT_GROUP_SUFFIX, FUNCTION_ARN_OUTPUT_SUFFIX, Aws
from scripts.release.history import MODEL_SOURCE_VARIABLE, models_layer_name
from tests.support.service import TEST_ENVIRONMENT

REGION = TEST_ENVIRONMENT["AWS_DEFAULT_REGION"]
STACK = "kyber-crystal-classifier"
BUCKET = "kyber-models"
KEY = "k" * 40
ACTIVE = ("Created", "Queued", "InProgress", "Baking", "Ready")


class FakeCodeDeploy:
    """CodeDeploy's Lambda deployments as boto3 answers them: list_deployments, get_deployment,
    get_application_revision and stop_deployment (see the module's docstring for why not moto's)."""

    def __init__(self, events: list[str]) -> None:
        self.deployments: dict[str, dict[str, Any]] = {}
        self.events = events

    def create(self, application: str, group: str, function: str, current: str, target: str, status: str) -> str:
        deployment_id = "d-" + uuid.uuid4().hex[:9].upper()
        appspec = {
            "version": 0.0,
            "Resources": [
                {
                    function: {
                        "Type": "AWS::Lambda::Function",
                        "Properties": {
                            "Name": function,
                            "Alias": "live",
                            "CurrentVersion": current,
                            "TargetVersion": target,
                        },
                    }
                }
            ],
        }
        self.deployments[deployment_id] = {
            "deploymentId": deployment_id,
            "applicationName": application,
            "deploymentGroupName": group,
            "status": status,
            "createTime": datetime.now(UTC),
            "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"sha256": deployment_id}},
            "appspec": json.dumps(appspec),
            "errorInformation": {},
            "rollbackInfo": {},
        }
        return deployment_id

    def stopped_by_alarm(self, deployment_id: str, alarm: str) -> None:
        self.deployments[deployment_id].update(
            status="Stopped",
            errorInformation={
                "code": "ALARM_ACTIVE",
                "message": "One or more alarms have been activated according to the Amazon CloudWatch metrics you "
                f"selected, and the affected deployments have been stopped. Activated alarms: {alarm}",
            },
            rollbackInfo={"rollbackMessage": "Deployment was rolled back because an alarm was activated."},
        )

    def list_deployments(self, **query: Any) -> dict[str, Any]:
        since = query.get("createTimeRange", {}).get("start")
        statuses = query.get("includeOnlyStatuses")
        return {
            "deployments": [
                one["deploymentId"]
                for one in self.deployments.values()
                if one["applicationName"] == query["applicationName"]
                and one["deploymentGroupName"] == query["deploymentGroupName"]
                and (since is None or one["createTime"] >= since)
                and (not statuses or one["status"] in statuses)
            ]
        }

    def get_deployment(self, **request: Any) -> dict[str, Any]:
        found = self.deployments[request["deploymentId"]]
        return {"deploymentInfo": {key: value for key, value in found.items() if key != "appspec"}}

    def get_application_revision(self, **request: Any) -> dict[str, Any]:
        wanted = request["revision"]["appSpecContent"]
        (one,) = (found for found in self.deployments.values() if found["revision"]["appSpecContent"] == wanted)
        return {"revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": one["appspec"]}}}

    def stop_deployment(self, **request: Any) -> dict[str, Any]:
        self.events.append(
            f"stop_deployment {request['deploymentId']} autoRollbackEnabled={request['autoRollbackEnabled']}"
        )
        self.deployments[request["deploymentId"]].update(status="Stopped", rollbackInfo={"rollbackMessage": "stopped"})
        return {"status": "Succeeded", "statusMessage": "stopped"}


class CloudFormationWithDeploymentGroups:
    """moto's CloudFormation client, with describe_stack_resource naming the CodeDeploy resources SAM makes."""

    def __init__(self, moto: Any, physical_ids: dict[str, str]) -> None:
        self.moto = moto
        self.physical_ids = physical_ids

    def describe_stack_resource(self, **request: Any) -> dict[str, Any]:
        self.moto.describe_stacks(StackName=request["StackName"])
        logical_id = request["LogicalResourceId"]
        return {
            "StackResourceDetail": {
                "LogicalResourceId": logical_id,
                "PhysicalResourceId": self.physical_ids[logical_id],
            }
        }

    def __getattr__(self, name: str) -> Any:
        return getattr(self.moto, name)


def layer_zip(folder: Path) -> bytes:
    """The models layer's folder zipped as `sam deploy` zips it."""
    with tempfile.TemporaryDirectory() as scratch:
        return Path(make_zip(str(Path(scratch) / "layer"), str(folder))).read_bytes()


def function_zip() -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("app.py", "def lambda_handler(event, context):\n    return {}\n")
    return archive.getvalue()


@dataclass
class DeployedStack:
    """The stack on moto, the fakes beside it, and what `sam deploy` should do next."""

    aws: Aws
    codedeploy: FakeCodeDeploy
    project: Path
    events: list[str] = field(default_factory=list)
    api_url: str = ""
    key_id: str = ""
    # The route whose next deployment an alarm stops, if any.
    failing_route: str | None = None

    @property
    def logical_ids(self) -> dict[str, str]:
        """Each route's function's logical id without "Function" (Sklearn), as the alarms are named."""
        return {
            route: logical.removesuffix("Function")
            for logical, route in zip(resources("AWS::Serverless::Function"), routes(), strict=True)
        }

    @property
    def functions(self) -> dict[str, str]:
        """Function name by route."""
        return {route: f"{STACK}-{logical}Function-ABC123" for route, logical in self.logical_ids.items()}

    def update_stack(self, parameters: dict[str, str]) -> None:
        self.aws.cloudformation.update_stack(
            StackName=STACK,
            TemplateBody=stack_template(self),
            Parameters=[{"ParameterKey": key, "ParameterValue": value} for key, value in parameters.items()],
        )

    def target_version(self, deployment_id: str) -> str:
        (resource,) = json.loads(self.codedeploy.deployments[deployment_id]["appspec"])["Resources"][0].values()
        return str(resource["Properties"]["TargetVersion"])

    def parameters(self) -> dict[str, str]:
        (stack,) = self.aws.cloudformation.describe_stacks(StackName=STACK)["Stacks"]
        return {parameter["ParameterKey"]: parameter["ParameterValue"] for parameter in stack["Parameters"]}

    def live(self, route: str) -> str:
        return str(self.aws.functions.get_alias(FunctionName=self.functions[route], Name="live")["FunctionVersion"])

    def snapshot(self) -> dict[str, Any]:
        """Everything a release or rollback could change, to compare before and after."""
        objects = self.aws.s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        return {
            "objects": sorted((item["Key"], item["ETag"]) for item in objects),
            "parameters": self.parameters(),
            "live": {route: self.live(route) for route in self.functions},
            "versions": {
                route: [
                    (v["Version"], v.get("Environment", {}).get("Variables", {}).get(MODEL_SOURCE_VARIABLE))
                    for v in self.aws.functions.list_versions_by_function(FunctionName=name)["Versions"]
                ]
                for route, name in self.functions.items()
            },
            "deployments": {key: value["status"] for key, value in self.codedeploy.deployments.items()},
        }

    def publish(self, route: str, model_source: str) -> str:
        name = self.functions[route]
        variables = {**function_variables(), MODEL_SOURCE_VARIABLE: model_source}
        self.aws.functions.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
        return str(self.aws.functions.publish_version(FunctionName=name)["Version"])

    def deployment_group(self, route: str) -> str:
        return f"{STACK}-{route}-group"

    def start_deployment(self, route: str, model_source: str, status: str = "InProgress") -> str:
        """A deployment of route's function to a new version serving model_source, in the status given."""
        target = self.publish(route, model_source)
        return self.codedeploy.create(
            f"{STACK}-application",
            self.deployment_group(route),
            self.functions[route],
            self.live(route),
            target,
            status,
        )


class RecordingSamDeploy:
    """`sam deploy` for the tests: records each command line and applies its parameters as CloudFormation would:
    nothing when none changed; otherwise each function publishes a version and CodeDeploy moves live to it, or, for
    the failing route, an alarm stops its deployment and the stack update rolls back (exit status 1)."""

    def __init__(self, world: DeployedStack) -> None:
        self.world = world
        self.commands: list[list[str]] = []

    def run(self, argv: Sequence[str]) -> int:
        self.commands.append(list(argv))
        self.world.events.append(" ".join(argv[:2]))
        overrides = CfnParameterOverridesType().convert(argv[argv.index("--parameter-overrides") + 1], None, None)
        before = self.world.parameters()
        if overrides == before:
            return 0
        self.world.update_stack(overrides)
        failing = self.world.failing_route
        for route in self.world.functions:
            deployment = self.world.start_deployment(route, overrides["ModelSource"], status="Succeeded")
            target = self.world.target_version(deployment)
            if failing is None:
                self.world.aws.functions.update_alias(
                    FunctionName=self.world.functions[route], Name="live", FunctionVersion=target
                )
            elif route == failing:
                self.world.codedeploy.stopped_by_alarm(
                    deployment, f"{STACK}-{self.world.logical_ids[route]}-RequestsFailed-version-{target}"
                )
            else:
                self.world.codedeploy.deployments[deployment].update(
                    status="Stopped", rollbackInfo={"rollbackMessage": "stack rolled back"}
                )
        if failing is None:
            return 0
        # CloudFormation rolls the whole update back: the parameters, and every alias stays where it was.
        self.world.update_stack(before)
        return 1


def stack_template(world: DeployedStack) -> str:
    """The stack as moto holds it: the template's parameters (with their defaults) and the outputs the tools read."""
    outputs = {"KyberApiUrl": world.api_url, "KyberApiKeyId": world.key_id}
    for route, logical in world.logical_ids.items():
        outputs[f"{logical}Function{FUNCTION_ARN_OUTPUT_SUFFIX}"] = (
            f"arn:aws:lambda:{REGION}:123456789012:function:{world.functions[route]}"
        )
    parameters = {
        name: {"Type": "String", "Default": str(spec.get("Default", ""))}
        for name, spec in template()["Parameters"].items()
    }
    return json.dumps(
        {
            "Parameters": parameters,
            "Resources": {"Releases": {"Type": "AWS::S3::Bucket"}},
            "Outputs": {name: {"Value": value} for name, value in outputs.items()},
        }
    )


def deployed_stack(project: Path, models_dir: Path, api_url: str, events: list[str]) -> DeployedStack:
    """The stack as a first `sam deploy --guided` leaves it, inside moto's mock_aws: version 1 of each function
    serving the models layer built from models_dir, live on it; and project holding that `sam build` output."""
    layer_dir = built_models(project).parent
    shutil.copytree(models_dir, built_models(project))
    (project / BUILD_DIR / "template.yaml").write_text("# sam build's template\n")
    clients: dict[str, Any] = {
        name: boto3.client(name, region_name=REGION) for name in ("s3", "lambda", "cloudformation", "apigateway", "iam")
    }
    codedeploy = FakeCodeDeploy(events)
    physical = {DEPLOYMENT_APPLICATION: f"{STACK}-application"}
    for logical, route in zip(resources("AWS::Serverless::Function"), routes(), strict=True):
        physical[logical + DEPLOYMENT_GROUP_SUFFIX] = f"{STACK}-{route}-group"
    aws = Aws(
        s3=clients["s3"],
        functions=clients["lambda"],
        cloudformation=CloudFormationWithDeploymentGroups(clients["cloudformation"], physical),
        codedeploy=codedeploy,
        apigateway=clients["apigateway"],
    )
    world = DeployedStack(aws=aws, codedeploy=codedeploy, project=project, events=events, api_url=api_url)
    clients["s3"].create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    role = clients["iam"].create_role(RoleName="kyber", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    layer = clients["lambda"].publish_layer_version(
        LayerName=models_layer_name(), Content={"ZipFile": layer_zip(layer_dir)}
    )
    for name in world.functions.values():
        clients["lambda"].create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=role,
            Handler="app.lambda_handler",
            Code={"ZipFile": function_zip()},
            Layers=[layer["LayerVersionArn"]],
            Environment={"Variables": {**function_variables(), MODEL_SOURCE_VARIABLE: ""}},
        )
        clients["lambda"].publish_version(FunctionName=name)
        clients["lambda"].create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    world.key_id = clients["apigateway"].create_api_key(name="droids", enabled=True, value=KEY)["id"]
    clients["cloudformation"].create_stack(StackName=STACK, TemplateBody=stack_template(world))
    return world
