"""The AWS side of a release: every boto3 client made by one function taking the region, and a deployed stack as
CloudFormation describes it (its parameters, outputs, functions and their CodeDeploy deployment groups)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from scripts.project import resources, routes

MODEL_SOURCE = "ModelSource"
# What SAM makes for a function with a DeploymentPreference: one CodeDeploy application per stack, and a
# deployment group per function named after it (checked against samtranslator's output in the tests).
DEPLOYMENT_APPLICATION = "ServerlessDeploymentApplication"
DEPLOYMENT_GROUP_SUFFIX = "DeploymentGroup"
# Each function's output in template.yaml: its ARN.
FUNCTION_ARN_OUTPUT_SUFFIX = "Arn"
ALIAS = "live"


class StackError(RuntimeError):
    """The stack is missing, or is not one of this template's."""


def aws_client(service: str, region: str | None) -> Any:
    """A boto3 client for service in region (None: the AWS configuration's), the only place one is made."""
    import boto3

    session: Any = boto3.session.Session(region_name=region)
    return session.client(service)


@dataclass(frozen=True)
class Aws:
    """The clients a release uses, made once per command."""

    s3: Any
    functions: Any
    cloudformation: Any
    codedeploy: Any
    apigateway: Any

    @classmethod
    def in_region(cls, region: str | None) -> Aws:
        return cls(
            *(aws_client(name, region) for name in ("s3", "lambda", "cloudformation", "codedeploy", "apigateway"))
        )


@dataclass(frozen=True)
class Function:
    """One of the stack's functions: its logical id in the template, its route, its name in Lambda, and the CodeDeploy
    deployment group that moves its alias."""

    logical_id: str
    route: str
    name: str
    deployment_group: str


@dataclass(frozen=True)
class Stack:
    name: str
    status: str
    parameters: dict[str, str]
    outputs: dict[str, str]
    application: str
    functions: tuple[Function, ...]

    @property
    def model_source(self) -> str:
        return self.parameters.get(MODEL_SOURCE, "")

    @property
    def busy(self) -> bool:
        """Whether CloudFormation is still working on the stack (an update, or its rollback)."""
        return self.status.endswith("_IN_PROGRESS")


def physical_id(aws: Aws, stack: str, logical_id: str) -> str:
    detail = aws.cloudformation.describe_stack_resource(StackName=stack, LogicalResourceId=logical_id)
    return str(detail["StackResourceDetail"]["PhysicalResourceId"])


def read_stack(aws: Aws, name: str) -> Stack:
    """The stack as CloudFormation describes it now; a StackError when it is not one of this template's."""
    from botocore.exceptions import ClientError

    try:
        (described,) = aws.cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        raise StackError(f"cannot read stack {name}: {error.response['Error']['Message']}") from None
    outputs = {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", [])}
    parameters = {parameter["ParameterKey"]: parameter["ParameterValue"] for parameter in described["Parameters"]}
    if MODEL_SOURCE not in parameters:
        raise StackError(f"stack {name} has no parameter {MODEL_SOURCE}: is it this project's?")
    functions = []
    for logical_id, route in zip(resources("AWS::Serverless::Function"), routes(), strict=True):
        arn = outputs.get(logical_id + FUNCTION_ARN_OUTPUT_SUFFIX)
        if arn is None:
            raise StackError(
                f"stack {name} has no output {logical_id}{FUNCTION_ARN_OUTPUT_SUFFIX}: is it this project's?"
            )
        group = physical_id(aws, name, logical_id + DEPLOYMENT_GROUP_SUFFIX)
        functions.append(Function(logical_id, route, arn.rsplit(":", 1)[-1], group))
    return Stack(
        name=name,
        status=described["StackStatus"],
        parameters=parameters,
        outputs=outputs,
        application=physical_id(aws, name, DEPLOYMENT_APPLICATION),
        functions=tuple(functions),
    )
