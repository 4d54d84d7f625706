"""template.yaml as CloudFormation deploys it: the production stack around the three functions.

CloudFormation first runs AWS::LanguageExtensions, which expands Fn::ForEach and resolves what it can from the
parameter values (scripts/cloudformation.py), then SAM's transform. The tests do the same: SAM CLI's copy of
AWS::LanguageExtensions, then samtranslator as `sam deploy` runs it, with the code URIs `sam package` would upload.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from typing import Any

import pytest
from aws_lambda_powertools.shared.constants import LAMBDA_ADVANCED_LOGGING_LEVELS

from scripts.cloudformation import STACK, language_extensions
from scripts.harness.events import FakeLambdaContext
from scripts.project import REPO
from tests.support.service import TEST_ENVIRONMENT
from tests.support.template import deployed, only, resources_of_type, source_template, transformed

FUNCTIONS = {"SklearnFunction": "/sklearn", "PytorchFunction": "/pytorch", "AstromechFunction": "/astromech"}
METHODS = ("post", "x-amazon-apigateway-any-method")
# A model release as the ML team names it: a prefix ending in its manifest's SHA-256.
MODEL_RELEASE = "s3://kyber-models/releases/" + "0123456789abcdef" * 4 + "/"
# The customer-managed key a release may be encrypted with.
RELEASE_KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
MODEL_PATHS = ("", "/ready", "/infer", "/versions/{version}", "/versions/{version}/ready", "/versions/{version}/infer")
# The Open Inference Protocol's paths, by the function that serves them.
PROTOCOL_PATHS = {
    "SklearnFunction": [f"/v2/models/sklearn{tail}" for tail in MODEL_PATHS],
    "PytorchFunction": [f"/v2/models/pytorch{tail}" for tail in MODEL_PATHS],
    "AstromechFunction": [
        "/v2",
        "/v2/health/live",
        "/v2/health/ready",
        *(f"/v2/models/{{model}}{tail}" for tail in MODEL_PATHS),
    ],
}
ANY_METHOD = "x-amazon-apigateway-any-method"


def alias_of(function: str) -> str:
    return f"{function}Aliaslive"


def test_every_route_invokes_its_functions_live_alias() -> None:
    template = deployed()
    _, api = only(resources_of_type(template, "AWS::ApiGateway::RestApi"))
    paths = api["Properties"]["Body"]["paths"]
    assert set(paths) == set(FUNCTIONS.values()) | {path for paths in PROTOCOL_PATHS.values() for path in paths}
    for function, path in FUNCTIONS.items():
        # POST, and every other method, which the function answers with 405
        assert set(paths[path]) == set(METHODS)
        for method in METHODS:
            uri = paths[path][method]["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
            assert f"/functions/${{{alias_of(function)}}}/invocations" in uri
        alias = template["Resources"][alias_of(function)]
        assert alias["Properties"]["Name"] == "live"
        assert alias["Properties"]["FunctionName"] == {"Ref": function}
        for event in ("Classify", "OtherMethods"):
            permission = template["Resources"][f"{function}{event}Permissionv1"]["Properties"]
            assert permission["FunctionName"] == {"Ref": alias_of(function)}


def test_every_function_publishes_versions_restored_from_a_snapstart_snapshot() -> None:
    template = deployed()
    assert set(resources_of_type(template, "AWS::Lambda::Function")) == set(FUNCTIONS)
    for function in FUNCTIONS:
        properties = template["Resources"][function]["Properties"]
        assert properties["SnapStart"] == {"ApplyOn": "PublishedVersions"}
        assert properties["Runtime"] == "python3.13"
        assert properties["TracingConfig"] == {"Mode": "Active"}
        version_name, version = only(
            {n: r for n, r in resources_of_type(template, "AWS::Lambda::Version").items() if n.startswith(function)}
        )
        assert version["Properties"]["FunctionName"] == {"Ref": function}
        assert template["Resources"][alias_of(function)]["Properties"]["FunctionVersion"] == {
            "Fn::GetAtt": [version_name, "Version"]
        }


def published_versions(template: dict[str, Any]) -> set[str]:
    return set(resources_of_type(template, "AWS::Lambda::Version"))


@pytest.mark.parametrize("layer", ["ModelsLayer", "KyberLayer"])
def test_a_new_layer_publishes_a_new_version_of_every_function_for_the_alias_to_move_to(layer: str) -> None:
    # Given the stack as deployed, and the same template with new content in one layer
    changed = copy.deepcopy(source_template())
    changed["Resources"][layer]["Properties"]["ContentUri"] += "next-build/"
    before, after = deployed(), transformed(changed, {})
    # Then every function publishes a new version: the alias would otherwise keep the old layer
    assert len(published_versions(before)) == len(FUNCTIONS)
    assert published_versions(before).isdisjoint(published_versions(after))


def test_an_unchanged_template_publishes_no_new_version() -> None:
    assert published_versions(deployed()) == published_versions(transformed(source_template(), {}))


def parameters_in(node: Any) -> set[str]:
    """The template parameters a piece of the template refers to."""
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in source_template()["Parameters"]:
            return {node["Ref"]}
        return set().union(*map(parameters_in, node.values()))
    if isinstance(node, list):
        return set().union(*map(parameters_in, node))
    return set()


def parameters_the_functions_read() -> set[str]:
    """Parameters that reach what a function runs with: its environment and Lambda's logging of it."""
    template = source_template()
    settings = [template["Globals"]["Function"], *(template["Resources"][name]["Properties"] for name in FUNCTIONS)]
    return set().union(
        *(parameters_in(part.get(key, {})) for part in settings for key in ("Environment", "LoggingConfig"))
    )


def another_value(name: str) -> str:
    """An allowed value of the parameter other than its default."""
    spec = source_template()["Parameters"][name]
    default = str(spec.get("Default", ""))
    if "AllowedValues" in spec:
        return next(str(value) for value in spec["AllowedValues"] if str(value) != default)
    if name == "ModelSource":
        return MODEL_RELEASE
    if name == "AlarmEmail":
        return "droid-ops@example.com"
    if name == "ModelSourceKmsKeyArn":
        return RELEASE_KEY
    if name == "Labels":
        return default + ",violet"
    assert spec["Type"] == "Number", f"no other value known for {name}"
    step = 0.1 if "." in default else 1
    value = (
        float(default) + step if float(default) + step <= spec.get("MaxValue", float("inf")) else float(default) - step
    )
    return f"{value:g}"


def test_the_functions_read_their_limits_log_level_model_source_labels_monitoring_and_shadow_settings() -> None:
    assert parameters_the_functions_read() == {
        "MaxRows",
        "LogLevel",
        "ModelSource",
        "Labels",
        "LowConfidenceThreshold",
        "DataCapturePercent",
        "ShadowPercent",
    }


@pytest.mark.parametrize("parameter", sorted(source_template()["Parameters"]))
def test_a_new_parameter_value_publishes_versions_exactly_when_the_functions_read_it(parameter: str) -> None:
    # Given the stack as deployed, and deployed again with another value of one parameter
    before = published_versions(deployed())
    after = published_versions(deployed(**{parameter: another_value(parameter)}))
    if parameter in parameters_the_functions_read():
        # Then a function that reads it publishes a new version, for `live` to move to through the canary
        assert before.isdisjoint(after)
    else:
        # Then no version is published: Lambda refuses to publish one with nothing changed in it
        assert after == before


def without_conditions(template: dict[str, Any]) -> dict[str, Any]:
    """The template with every resource and output unconditional, as AWS::LanguageExtensions evaluates
    their expressions whatever their conditions say."""
    unconditional = copy.deepcopy(template)
    for section in ("Resources", "Outputs"):
        for entry in unconditional[section].values():
            if isinstance(entry, dict):  # not an Fn::ForEach, whose resources LanguageExtensions makes first
                entry.pop("Condition", None)
    return unconditional


@pytest.mark.parametrize("model_source", ["", MODEL_RELEASE])
def test_every_expression_evaluates_for_the_default_and_an_s3_model_source(model_source: str) -> None:
    # When AWS::LanguageExtensions evaluates every resource's expressions, conditions aside
    template = language_extensions(without_conditions(source_template()), {"ModelSource": model_source})
    # Then none fails, and the read policy names the release's prefix, or nothing when there is none
    resource = template["Resources"]["ModelSourceReadPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert resource["Resource"] == f"arn:aws:s3:::{model_source.removeprefix('s3://')}*"


RELEASE_HASH = MODEL_RELEASE.split("/")[-2]


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("", True),
        (MODEL_RELEASE, True),
        (f"s3://ml-team.models/kyber/{RELEASE_HASH}/", True),
        (f"s3://ml-team-models/{RELEASE_HASH}/", True),
        ("s3://ml-team-models/kyber/2026-11-26/", False),
        (f"s3://ml-team-models/kyber/{RELEASE_HASH}", False),
        (f"s3://ml-team-models/kyber/{RELEASE_HASH.upper()}/", False),
        (f"s3://ml-team-models/kyber/{RELEASE_HASH}/models/", False),
        (f"https://ml-team-models.s3.amazonaws.com/kyber/{RELEASE_HASH}/", False),
    ],
)
def test_the_model_source_is_empty_or_a_release_named_after_its_manifests_hash(value: str, accepted: bool) -> None:
    pattern = source_template()["Parameters"]["ModelSource"]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) is accepted


def test_functions_read_only_the_model_release_they_serve_and_nothing_without_one() -> None:
    template = deployed(ModelSource=MODEL_RELEASE)
    policy = template["Resources"]["ModelSourceReadPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert policy == [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{MODEL_RELEASE[5:]}*"}]
    for function in FUNCTIONS:
        role = template["Resources"][f"{function}Role"]["Properties"]
        assert {"Ref": "ModelSourceReadPolicy"} in role["ManagedPolicyArns"]
    # Without a model source, CloudFormation skips the policy, and no role names it
    default = deployed()
    assert default["Resources"]["ModelSourceReadPolicy"]["Condition"] == "HasModelSource"
    for function in FUNCTIONS:
        role = default["Resources"][f"{function}Role"]["Properties"]
        assert {"Ref": "ModelSourceReadPolicy"} not in role.get("ManagedPolicyArns", [])


def test_functions_may_decrypt_a_release_with_its_kms_key_through_s3_only() -> None:
    template = deployed(ModelSource=MODEL_RELEASE, ModelSourceKmsKeyArn=RELEASE_KEY)
    read, decrypt = template["Resources"]["ModelSourceReadPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert read["Action"] == "s3:GetObject"
    assert decrypt == {
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": RELEASE_KEY,
        "Condition": {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}},
    }


@pytest.mark.parametrize(
    ("value", "accepted"),
    [("", True), (RELEASE_KEY, True), ("alias/kyber-models", False), ("1234abcd-12ab-34cd-56ef-1234567890ab", False)],
)
def test_the_release_key_is_empty_or_a_kms_key_arn(value: str, accepted: bool) -> None:
    pattern = source_template()["Parameters"]["ModelSourceKmsKeyArn"]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) is accepted


def rollback_alarm_names(template: dict[str, Any]) -> dict[str, Any]:
    return {
        name: template["Resources"][name]["Properties"]["AlarmName"]
        for function in FUNCTIONS
        for name in (function.replace("Function", "FailuresAlarm"), function.replace("Function", "ErrorsAlarm"))
    }


def test_a_new_versions_rollback_alarms_are_new_alarms_named_after_it() -> None:
    # Given the stack, and the stack with a change that publishes a new version of every function
    before, after = deployed(), deployed(MaxRows="5000")
    for name, alarm_name in rollback_alarm_names(after).items():
        # Then each rollback alarm is named after the version it watches (a new name is a new alarm, which
        # starts with no data: an updated one would keep its ALARM state from the version before)
        function = name.replace("FailuresAlarm", "Function").replace("ErrorsAlarm", "Function")
        version_name = after["Resources"][alias_of(function)]["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
        _, parts = alarm_name["Fn::Join"]
        assert parts[0] == STACK.stack_name
        assert parts[-1] == {"Fn::GetAtt": [version_name, "Version"]}
        assert alarm_name != rollback_alarm_names(before)[name]
    # and an update that publishes no version keeps them
    assert rollback_alarm_names(deployed(LatencyAlarmMs="750")) == rollback_alarm_names(before)


def test_each_deployment_shifts_traffic_by_canary_and_rolls_back_on_any_alarm() -> None:
    template = deployed()
    for function in FUNCTIONS:
        alias = template["Resources"][alias_of(function)]
        update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
        group = template["Resources"][update["DeploymentGroupName"]["Ref"]]["Properties"]
        assert group["DeploymentConfigName"]["Fn::Sub"][1] == {"ConfigName": "Canary10Percent5Minutes"}
        assert group["AutoRollbackConfiguration"]["Enabled"] is True
        assert "DEPLOYMENT_STOP_ON_ALARM" in group["AutoRollbackConfiguration"]["Events"]
        alarms = {alarm["Name"]["Ref"] for alarm in group["AlarmConfiguration"]["Alarms"]}
        assert group["AlarmConfiguration"]["Enabled"] is True
        own = function.removesuffix("Function")
        assert alarms == {f"{own}FailuresAlarm", f"{own}ErrorsAlarm", "ApiServerErrorsAlarm", "ApiLatencyAlarm"}


def test_a_development_stack_deploys_all_at_once_with_the_same_alarms_configured() -> None:
    template = deployed(DeploymentType="AllAtOnce")
    groups = resources_of_type(template, "AWS::CodeDeploy::DeploymentGroup")
    assert len(groups) == len(FUNCTIONS)
    for group in groups.values():
        assert group["Properties"]["DeploymentConfigName"]["Fn::Sub"][1] == {"ConfigName": "AllAtOnce"}
        assert len(group["Properties"]["AlarmConfiguration"]["Alarms"]) == 4


def test_a_functions_errors_alarm_watches_the_new_version_behind_its_alias() -> None:
    template = deployed()
    for function in FUNCTIONS:
        alarm = template["Resources"][f"{function.removesuffix('Function')}ErrorsAlarm"]["Properties"]
        assert (alarm["Namespace"], alarm["MetricName"], alarm["Statistic"]) == ("AWS/Lambda", "Errors", "Sum")
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
        dimensions = {dimension["Name"]: dimension["Value"] for dimension in alarm["Dimensions"]}
        version_name = template["Resources"][alias_of(function)]["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
        assert dimensions == {
            "FunctionName": {"Ref": function},
            "Resource": {"Fn::Sub": f"${{{function}}}:live"},
            "ExecutedVersion": {"Fn::GetAtt": [version_name, "Version"]},
        }


def test_a_functions_failures_alarm_counts_the_500s_its_new_version_answers(capsys: pytest.CaptureFixture[str]) -> None:
    from kyber.api import count_failure

    # Given the metric line the layer writes for a request it answers with a 500
    context: Any = FakeLambdaContext(
        function_name="kyber-crystal-classifier-SklearnFunction-1a2b", function_version="7"
    )
    count_failure(context)
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    (directive,) = line["_aws"]["CloudWatchMetrics"]
    ((metric_name, _),) = ((metric["Name"], metric["Unit"]) for metric in directive["Metrics"])
    (dimension_names,) = directive["Dimensions"]
    assert {name: line[name] for name in dimension_names} == {
        "function_name": "kyber-crystal-classifier-SklearnFunction-1a2b",
        "function_version": "7",
        "service": TEST_ENVIRONMENT["POWERTOOLS_SERVICE_NAME"],
    }
    template = deployed()
    for function in FUNCTIONS:
        # Then each function's alarm counts that metric, by its name and the version `live` moves to
        alarm = template["Resources"][f"{function.removesuffix('Function')}FailuresAlarm"]["Properties"]
        assert (alarm["Namespace"], alarm["MetricName"]) == (directive["Namespace"], metric_name)
        version_name = template["Resources"][alias_of(function)]["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
        service = template["Resources"][function]["Properties"]["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"]
        assert {dimension["Name"]: dimension["Value"] for dimension in alarm["Dimensions"]} == {
            "function_name": {"Ref": function},
            "function_version": {"Fn::GetAtt": [version_name, "Version"]},
            "service": service,
        }
        assert set(dimension_names) == {dimension["Name"] for dimension in alarm["Dimensions"]}
        # and any one failure in a minute rolls the deployment back
        assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Sum", 60, 1)
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
        assert alarm["TreatMissingData"] == "notBreaching"


def test_the_api_alarms_watch_this_apis_stage_for_5xx_rate_and_p99_latency() -> None:
    template = deployed(LatencyAlarmMs="750")
    _, api = only(resources_of_type(template, "AWS::ApiGateway::RestApi"))
    _, stage = only(resources_of_type(template, "AWS::ApiGateway::Stage"))
    expected = {"ApiName": api["Properties"]["Name"], "Stage": stage["Properties"]["StageName"]}
    errors = template["Resources"]["ApiServerErrorsAlarm"]["Properties"]
    latency = template["Resources"]["ApiLatencyAlarm"]["Properties"]
    for alarm in (errors, latency):
        assert alarm["Namespace"] == "AWS/ApiGateway"
        assert {dimension["Name"]: dimension["Value"] for dimension in alarm["Dimensions"]} == expected
    assert (errors["MetricName"], errors["Statistic"], errors["Threshold"]) == ("5XXError", "Average", 0.01)
    assert (latency["MetricName"], latency["ExtendedStatistic"]) == ("Latency", "p99")
    assert latency["Threshold"] == "750"


def test_the_stage_is_throttled_traced_and_writes_json_access_logs_to_a_kept_log_group() -> None:
    template = deployed(ApiRateLimit="67", ApiBurstLimit="89", LogRetentionDays="90")
    _, stage = only(resources_of_type(template, "AWS::ApiGateway::Stage"))
    properties = stage["Properties"]
    assert properties["TracingEnabled"] is True
    assert properties["MethodSettings"] == [
        {
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "ThrottlingRateLimit": "67",
            "ThrottlingBurstLimit": "89",
            "MetricsEnabled": True,
        }
    ]
    access = properties["AccessLogSetting"]
    assert access["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    fields = json.loads(access["Format"])
    assert fields["requestId"] == "$context.requestId"
    assert fields["status"] == "$context.status"
    assert fields["apiKeyId"] == "$context.identity.apiKeyId"
    log_group = template["Resources"]["ApiAccessLogGroup"]["Properties"]
    assert log_group["RetentionInDays"] == "90"


def test_the_stage_waits_for_the_accounts_logging_role_which_outlives_the_stack() -> None:
    template = deployed()
    _, api = only(resources_of_type(template, "AWS::ApiGateway::RestApi"))
    assert api["DependsOn"] == "ApiGatewayLoggingReady"
    ready = template["Resources"]["ApiGatewayLoggingReady"]
    assert ready["Metadata"]["AccountSetting"] == {"Ref": "ApiGatewayAccount"}
    account = template["Resources"]["ApiGatewayAccount"]
    role = template["Resources"]["ApiGatewayCloudWatchRole"]
    assert account["Properties"]["CloudWatchRoleArn"] == {"Fn::GetAtt": ["ApiGatewayCloudWatchRole", "Arn"]}
    for kept in (account, role):
        assert (kept["DeletionPolicy"], kept["UpdateReplacePolicy"]) == ("Retain", "Retain")
    existing = deployed(ApiGatewayLogsRole="existing")
    assert existing["Resources"]["ApiGatewayLoggingReady"]["Metadata"]["AccountSetting"] == "existing"
    assert existing["Resources"]["ApiGatewayAccount"]["Condition"] == "CreatesApiGatewayLogsRole"
    assert source_template()["Conditions"]["CreatesApiGatewayLogsRole"] == {
        "Fn::Equals": [{"Ref": "ApiGatewayLogsRole"}, "create"]
    }


def test_keys_are_required_by_default_with_a_usage_plan_of_quota_and_throttle() -> None:
    template = deployed(ApiQuotaPerDay="12345", ApiRateLimit="67", ApiBurstLimit="89")
    _, api = only(resources_of_type(template, "AWS::ApiGateway::RestApi"))
    body = api["Properties"]["Body"]
    assert body["securityDefinitions"]["api_key"] == {"type": "apiKey", "name": "x-api-key", "in": "header"}
    for path in FUNCTIONS.values():
        for method in METHODS:
            assert body["paths"][path][method]["security"] == [{"api_key": []}]
    _, plan = only(resources_of_type(template, "AWS::ApiGateway::UsagePlan"))
    # SAM puts the parameters' values into the usage plan itself.
    assert plan["Properties"]["Quota"] == {"Limit": "12345", "Period": "DAY"}
    assert plan["Properties"]["Throttle"] == {"RateLimit": "67", "BurstLimit": "89"}
    key_name, _ = only(resources_of_type(template, "AWS::ApiGateway::ApiKey"))
    _, plan_key = only(resources_of_type(template, "AWS::ApiGateway::UsagePlanKey"))
    assert plan_key["Properties"]["KeyId"] == {"Ref": key_name}
    assert template["Outputs"]["KyberApiKeyId"]["Value"] == {"Ref": key_name}


def test_keys_switched_off_leave_no_key_no_plan_and_no_method_asking_for_one() -> None:
    template = deployed(ApiKeyRequired="false", ApiRateLimit="67")
    _, api = only(resources_of_type(template, "AWS::ApiGateway::RestApi"))
    for path in FUNCTIONS.values():
        for method in METHODS:
            assert "security" not in api["Properties"]["Body"]["paths"][path][method]
    for kind in ("AWS::ApiGateway::UsagePlan", "AWS::ApiGateway::ApiKey", "AWS::ApiGateway::UsagePlanKey"):
        assert resources_of_type(template, kind) == {}
    assert template["Outputs"]["KyberApiKeyId"]["Value"] == "none"
    _, stage = only(resources_of_type(template, "AWS::ApiGateway::Stage"))
    assert stage["Properties"]["MethodSettings"][0]["ThrottlingRateLimit"] == "67"


def references_in(node: Any) -> set[str]:
    """The logical ids a piece of the transformed template refers to (Ref, Fn::GetAtt, Fn::Sub)."""
    if isinstance(node, dict):
        if set(node) == {"Ref"}:
            return {node["Ref"]}
        if set(node) == {"Fn::GetAtt"}:
            return {node["Fn::GetAtt"][0]}
        if set(node) == {"Fn::Sub"}:
            text = node["Fn::Sub"] if isinstance(node["Fn::Sub"], str) else node["Fn::Sub"][0]
            return {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
        return set().union(*map(references_in, node.values()))
    if isinstance(node, list):
        return set().union(*map(references_in, node))
    return set()


def test_every_function_logs_to_its_stacks_log_group_made_before_it_with_retention() -> None:
    template = deployed(LogRetentionDays="90")
    for function, path in FUNCTIONS.items():
        # Given the log group the function names as its own
        logging_config = template["Resources"][function]["Properties"]["LoggingConfig"]
        group_name = logging_config["LogGroup"]["Ref"]
        group = template["Resources"][group_name]
        # Then CloudFormation makes the group first: the function refers to it, the group to nothing
        assert group["Type"] == "AWS::Logs::LogGroup"
        assert references_in(group["Properties"]) == set()
        assert group["Properties"] == {
            "LogGroupName": f"/aws/lambda/{STACK.stack_name}{path}",
            "RetentionInDays": "90",
        }
        assert logging_config["LogFormat"] == "JSON"


def test_every_function_has_reserved_concurrency_and_lambdas_json_logs() -> None:
    template = deployed(LogLevel="WARNING")
    for function in FUNCTIONS:
        properties = template["Resources"][function]["Properties"]
        assert properties["ReservedConcurrentExecutions"] == {"Ref": "ReservedConcurrency"}
        logging_config = properties["LoggingConfig"]
        assert logging_config["LogFormat"] == "JSON"
        # Lambda keeps every line of INFO and above, the metric and capture lines among them; Powertools
        # leaves out the service's own lines below WARNING.
        assert logging_config["ApplicationLogLevel"] == "INFO"
        environment = properties["Environment"]["Variables"]
        assert environment["POWERTOOLS_LOG_LEVEL"] == "WARNING"


@pytest.mark.parametrize("level", source_template()["Parameters"]["LogLevel"]["AllowedValues"])
def test_lambdas_filter_keeps_info_lines_at_every_log_level_and_debug_ones_when_asked_for(level: str) -> None:
    lambda_level = deployed(LogLevel=level)["Resources"]["SklearnFunction"]["Properties"]["LoggingConfig"]
    python_name = LAMBDA_ADVANCED_LOGGING_LEVELS[lambda_level["ApplicationLogLevel"]]
    assert python_name is not None
    assert logging.getLevelName(python_name) == min(logging.INFO, logging.getLevelName(level))


def test_every_skipped_security_check_says_why() -> None:
    skipped = {
        (name, skip["id"]): skip.get("comment", "")
        for name, resource in language_extensions(copy.deepcopy(source_template()), {})["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    }
    assert skipped
    for (name, check), reason in skipped.items():
        assert len(reason.split()) >= 10, f"{name} skips {check} without a reason"
    functions_skip = {check for name, check in skipped if name in FUNCTIONS}
    assert functions_skip == {"CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173"}


def test_the_openapi_document_asks_for_the_key_the_deployed_api_checks_on_its_stage() -> None:
    document = json.loads((REPO / "openapi.json").read_text())
    template = deployed()
    _, api = only(resources_of_type(template, "AWS::ApiGateway::RestApi"))
    _, stage = only(resources_of_type(template, "AWS::ApiGateway::Stage"))
    scheme = document["components"]["securitySchemes"]["api_key"]
    assert {field: scheme[field] for field in ("type", "name", "in")} == api["Properties"]["Body"][
        "securityDefinitions"
    ]["api_key"]
    assert document["security"] == [{"api_key": []}]
    deployed_server = document["servers"][1]["url"]
    assert deployed_server.endswith(f"/{stage['Properties']['StageName']}")
    for path_item in document["paths"].values():
        for operation in path_item.values():
            assert {"403", "429"} <= set(operation["responses"])


def test_sam_deploy_acknowledges_what_the_template_needs() -> None:
    import tomllib

    deploy = tomllib.loads((REPO / "samconfig.toml").read_text())["default"]["deploy"]["parameters"]
    capabilities = set(deploy["capabilities"].split())
    # Roles without fixed names, and a transform besides SAM's own.
    assert capabilities == {"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"}
    assert source_template()["Transform"] == ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"]


# The Open Inference Protocol's routes and API Gateway's own answers.


def test_every_inference_protocol_path_invokes_the_live_alias_of_the_function_that_serves_it() -> None:
    template = deployed()
    _, api = only(resources_of_type(template, "AWS::ApiGateway::RestApi"))
    paths = api["Properties"]["Body"]["paths"]
    for function, served in PROTOCOL_PATHS.items():
        for path in served:
            # Every method, so that the function answers the ones a route lacks with a JSON 405
            assert set(paths[path]) == {ANY_METHOD}, path
            method = paths[path][ANY_METHOD]
            uri = method["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
            assert f"/functions/${{{alias_of(function)}}}/invocations" in uri
            # The key, throttling and access logs of the stage apply to them as to the native routes
            assert method["security"] == [{"api_key": []}]
    permissions = {
        name: resource["Properties"]["FunctionName"]
        for name, resource in resources_of_type(template, "AWS::Lambda::Permission").items()
    }
    assert len(permissions) == sum(map(len, PROTOCOL_PATHS.values())) + 2 * len(FUNCTIONS)
    for name, target in permissions.items():
        (function,) = (function for function in FUNCTIONS if name.startswith(function))
        assert target == {"Ref": alias_of(function)}


def test_without_keys_no_inference_protocol_route_asks_for_one() -> None:
    _, api = only(resources_of_type(deployed(ApiKeyRequired="false"), "AWS::ApiGateway::RestApi"))
    for served in PROTOCOL_PATHS.values():
        for path in served:
            assert "security" not in api["Properties"]["Body"]["paths"][path][ANY_METHOD]


def gateway_answers(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    _, api = only(resources_of_type(template, "AWS::ApiGateway::RestApi"))
    return dict(api["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"])


@pytest.mark.parametrize(
    ("response_type", "status"),
    [
        ("MISSING_AUTHENTICATION_TOKEN", "404"),
        ("INVALID_API_KEY", "403"),
        ("THROTTLED", "429"),
        ("QUOTA_EXCEEDED", "429"),
        ("REQUEST_TOO_LARGE", "413"),
    ],
)
def test_api_gateways_own_errors_are_json_with_error_and_message_and_the_right_status(
    response_type: str, status: str
) -> None:
    answer = gateway_answers(deployed())[response_type]
    assert answer["statusCode"] == status
    assert answer["responseParameters"] == {"gatewayresponse.header.Content-Type": "'application/json'"}
    # API Gateway puts its message in as a JSON string ($context.error.messageString, quotes included)
    body = answer["responseTemplates"]["application/json"].replace("$context.error.messageString", '"Forbidden"')
    fields = json.loads(body)
    assert set(fields) == {"error", "message"}
    assert all(isinstance(text, str) and text for text in fields.values())


def test_an_unknown_path_is_a_404_naming_the_routes_and_anything_else_api_gateway_refuses_is_json() -> None:
    answers = gateway_answers(deployed())
    unknown = json.loads(answers["MISSING_AUTHENTICATION_TOKEN"]["responseTemplates"]["application/json"])
    assert "no such route" in unknown["error"]
    assert "/v2" in unknown["error"]
    assert unknown["message"] == "no such route; POST /sklearn, /pytorch or /astromech"
    for default in ("DEFAULT_4XX", "DEFAULT_5XX"):
        assert "statusCode" not in answers[default]  # the status of the error it stands for
        template = answers[default]["responseTemplates"]["application/json"]
        assert json.loads(template.replace("$context.error.messageString", '"Bad Gateway"')) == {
            "error": "Bad Gateway",
            "message": "Bad Gateway",
        }


def test_a_change_to_api_gateways_own_errors_is_a_new_deployment_of_the_stage() -> None:
    # Given the stack, and the same template with one gateway response worded differently
    changed = copy.deepcopy(source_template())
    answers = changed["Resources"]["KyberApi"]["Properties"]["GatewayResponses"]
    answers["THROTTLED"]["ResponseTemplates"] = {"application/json": '{"error":"slow down","message":"slow down"}'}
    deployments = (
        set(resources_of_type(template, "AWS::ApiGateway::Deployment"))
        for template in (deployed(), transformed(changed, {}))
    )
    # Then SAM makes a new deployment, which puts the new answer on the stage
    before, after = deployments
    assert before.isdisjoint(after)
