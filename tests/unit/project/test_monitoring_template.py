"""The stack's watch over the models, as CloudFormation would create it (tests/support/template.py's transform):
anomaly alarms on each label's share and on the out-of-range share, their encrypted topic, the dashboard, and the
capture delivery that exists only when capture is on. Metric names and dimensions are checked against the lines
the layer really writes."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from functools import cache
from typing import Any, cast

import numpy as np
import pytest
from samcli.yamlhelper import yaml_parse

from kyber.manifest import TrainingRange
from kyber.monitoring import ModelMonitor, capture_record
from kyber.registry import CrystalModel
from kyber.shadow import Shadow
from scripts.harness.events import load_event
from scripts.project import REPO, metrics_namespace, service_name
from tests.support.service import DEFAULT_LABELS
from tests.support.template import STACK, deployed, resources_of_type, transformed

MODELS = ("sklearn", "pytorch")
CAPTURE_RESOURCES = {
    "AWS::S3::Bucket",
    "AWS::S3::BucketPolicy",
    "AWS::KinesisFirehose::DeliveryStream",
    "AWS::Logs::SubscriptionFilter",
}


@cache
def _monitoring(parameter_items: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    (stack,) = resources_of_type(deployed(**dict(parameter_items)), "AWS::CloudFormation::Stack").values()
    nested = yaml_parse((REPO / stack["Properties"]["TemplateURL"]).read_text())
    return transformed(nested, stack["Properties"]["Parameters"])


def monitoring(**parameters: str) -> dict[str, Any]:
    """The nested monitoring stack as CloudFormation creates it, from what the service's stack, deployed with these
    parameters, passes it."""
    return copy.deepcopy(_monitoring(tuple(sorted(parameters.items()))))


def holds(template: dict[str, Any], expression: Any) -> bool:
    """A condition as CloudFormation evaluates it, once AWS::LanguageExtensions has put the parameters in."""
    if isinstance(expression, dict):
        ((function, arguments),) = expression.items()
        if function == "Condition":
            return holds(template, template["Conditions"][arguments])
        if function == "Fn::Not":
            return not holds(template, arguments[0])
        if function == "Fn::Equals":
            return str(arguments[0]) == str(arguments[1])
        raise AssertionError(f"a condition the test cannot evaluate: {function}")
    return bool(expression)


def created(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    """The resources of a kind that CloudFormation creates: those without a condition or whose condition holds."""
    return {
        name: resource
        for name, resource in resources_of_type(template, kind).items()
        if "Condition" not in resource or holds(template, {"Condition": resource["Condition"]})
    }


def written_metrics(model: str) -> dict[str, dict[str, str]]:
    """Each metric the layer writes for a model, with the dimensions it gives it: from the lines themselves."""
    monitor = ModelMonitor.create(
        namespace=metrics_namespace(),
        service=service_name(),
        model=model,
        labels=tuple(DEFAULT_LABELS),
        training_range=TrainingRange((0.0,) * 4, (1.0,) * 4, source="test"),
        max_rows=1,
        low_confidence_threshold=0.5,
    )
    slots = (0,) * monitor.lines.count("%d")
    shadow = Shadow.create(
        namespace=metrics_namespace(),
        service=service_name(),
        champion=stand_in(model),
        challenger=stand_in(model),
        percent=100,
        min_remaining_ms=0,
    )
    shadow_lines = [shadow.ran_line % (0, 0, 0, "0", 0), shadow.skipped_line % 0]
    shadow_lines += [line % (0, 0) for lines in shadow.pair_lines for line in lines]
    written: dict[str, dict[str, str]] = {}
    for line in (json.loads(text) for text in [*(monitor.lines % slots).splitlines(), *shadow_lines]):
        for directive in line["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == metrics_namespace()
            (dimensions,) = directive["Dimensions"]
            for metric in directive["Metrics"]:
                key = metric["Name"]
                if "label" in dimensions:
                    key += f":{line['label']}"
                if "champion_label" in dimensions:
                    key += f":{line['champion_label']}:{line['challenger_label']}"
                written[key] = {name: line[name] for name in dimensions}
    return written


def stand_in(model: str) -> CrystalModel:
    """A model as the shadow's lines see it: its name and labels (no session is needed to lay them out)."""
    return CrystalModel(
        name=model,
        labels=tuple(DEFAULT_LABELS),
        session=cast(Any, None),
        input_name="crystal_data",
        input_dtype=np.dtype(np.float64),
        output_name="probabilities",
        verified_magnitude=1.0,
        version="0" * 12,
    )


def stat_of(alarm: dict[str, Any], metric_id: str) -> tuple[str, dict[str, str]]:
    (query,) = [query for query in alarm["Metrics"] if query["Id"] == metric_id]
    metric = query["MetricStat"]["Metric"]
    assert metric["Namespace"] == metrics_namespace()
    assert query["MetricStat"]["Stat"] == "Sum"
    return metric["MetricName"], {item["Name"]: item["Value"] for item in metric["Dimensions"]}


def assert_anomaly_alarm_on_share(alarm: dict[str, Any], part: str, whole: str) -> None:
    """The alarm fires when part / whole leaves the band anomaly detection learnt for it, and tells the topic."""
    expressions = {query["Id"]: query.get("Expression") for query in alarm["Metrics"]}
    returned = {query["Id"] for query in alarm["Metrics"] if query["ReturnData"]}
    share = next(name for name, expression in expressions.items() if expression == f"{part} / {whole}")
    band = alarm["ThresholdMetricId"]
    assert re.fullmatch(rf"ANOMALY_DETECTION_BAND\({share}, \d+\)", expressions[band])
    assert returned == {share, band}
    assert alarm["ComparisonOperator"] == "LessThanLowerOrGreaterThanUpperThreshold"
    assert "Threshold" not in alarm
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert alarm["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("label", DEFAULT_LABELS)
def test_each_labels_share_of_each_models_predictions_has_an_anomaly_alarm(model: str, label: str) -> None:
    alarm = monitoring()["Resources"][f"{model}{label}ShareAlarm"]["Properties"]
    written = written_metrics(model)
    assert stat_of(alarm, "predicted") == ("Predictions", written[f"Predictions:{label}"])
    assert stat_of(alarm, "predicted")[1]["label"] == label
    assert stat_of(alarm, "rows") == ("RowsScored", written["RowsScored"])
    assert_anomaly_alarm_on_share(alarm, "predicted", "rows")


@pytest.mark.parametrize("model", MODELS)
def test_each_models_share_of_rows_outside_the_training_range_has_an_anomaly_alarm(model: str) -> None:
    alarm = monitoring()["Resources"][f"{model}OutOfRangeShareAlarm"]["Properties"]
    written = written_metrics(model)
    assert stat_of(alarm, "outside") == ("RowsOutsideTrainingRange", written["RowsOutsideTrainingRange"])
    assert stat_of(alarm, "rows") == ("RowsScored", written["RowsScored"])
    assert_anomaly_alarm_on_share(alarm, "outside", "rows")


def banded_alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    alarms = resources_of_type(template, "AWS::CloudWatch::Alarm")
    return {name: alarm["Properties"] for name, alarm in alarms.items() if "ThresholdMetricId" in alarm["Properties"]}


def test_the_anomaly_alarms_are_exactly_those_of_every_model_and_label() -> None:
    expected = {f"{model}{label}ShareAlarm" for model in MODELS for label in DEFAULT_LABELS}
    expected |= {f"{model}OutOfRangeShareAlarm" for model in MODELS}
    assert set(banded_alarms(monitoring())) == expected


def test_models_of_four_labels_get_an_alarm_per_model_and_label_from_the_labels_parameter() -> None:
    # Given a release whose labels file names four labels, one of them not a plain word
    labels = ["blue", "green", "yellow", "deep-violet"]
    # When the stack is deployed with them
    alarms = banded_alarms(monitoring(Labels=",".join(labels)))
    # Then each model has an alarm on each label's share, watching that label's Predictions
    for model in MODELS:
        for label in labels:
            alarm = alarms[f"{model}{label.replace('-', '')}ShareAlarm"]
            assert stat_of(alarm, "predicted")[1] == {"service": service_name(), "model": model, "label": label}
            assert_anomaly_alarm_on_share(alarm, "predicted", "rows")
    assert len(alarms) == len(MODELS) * (len(labels) + 1)


def test_the_alarm_topic_is_encrypted_with_a_rotated_key_cloudwatch_may_use() -> None:
    resources = monitoring()["Resources"]
    topic = resources["AlarmTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlarmKey"}
    key = resources["AlarmKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    (cloudwatch,) = [
        s for s in key["KeyPolicy"]["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    (publish,) = resources["AlarmTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert (publish["Principal"], publish["Action"]) == ({"Service": "cloudwatch.amazonaws.com"}, "sns:Publish")


def test_alarms_are_mailed_only_to_an_address_given() -> None:
    assert created(monitoring(), "AWS::SNS::Subscription") == {}
    (subscription,) = created(monitoring(AlarmEmail="droid-ops@example.com"), "AWS::SNS::Subscription").values()
    assert subscription["Properties"] == {
        "TopicArn": {"Ref": "AlarmTopic"},
        "Protocol": "email",
        "Endpoint": "droid-ops@example.com",
    }


def dashboard() -> dict[str, Any]:
    (board,) = resources_of_type(monitoring(), "AWS::CloudWatch::Dashboard").values()
    body = board["Properties"]["DashboardBody"]
    assert isinstance(body, str), "AWS::LanguageExtensions writes the body as JSON text"
    parsed: dict[str, Any] = json.loads(body)
    return parsed


def test_the_dashboard_shows_the_service_and_what_the_models_see() -> None:
    titles = [widget["properties"]["title"] for widget in dashboard()["widgets"]]
    for wanted in (
        "Requests",
        "Latency",
        "5xx",
        "4xx answered by the functions",
        "4xx answered by API Gateway",
        "Rows classified",
        "Share of rows predicted per label and model",
        "Share of rows outside the training range, and of low confidence",
        "Cold starts",
        "SnapStart restores",
        "Challenger agreement with the champion",
        "Challenger flips",
        "Challenger errors, skips and added time",
    ):
        assert any(title.startswith(wanted) for title in titles), wanted


def test_the_dashboards_model_metrics_are_those_the_layer_writes() -> None:
    entries = [entry for widget in dashboard()["widgets"] for entry in widget["properties"].get("metrics", [])]
    shown = [entry for entry in entries if entry[0] == metrics_namespace()]
    written = {model: written_metrics(model) for model in MODELS}
    assert shown
    for entry in shown:
        name, pairs = entry[1], [item for item in entry[2:] if isinstance(item, str)]
        dimensions = dict(zip(pairs[::2], pairs[1::2], strict=True))
        assert written[dimensions["model"]][name] == dimensions
    # Each label's share is every label the model writes (no label is typed), over the model's rows
    expressions = {entry[0]["id"]: entry[0]["expression"] for entry in entries if isinstance(entry[0], dict)}
    for model in MODELS:
        dimensions = written[model][f"Predictions:{DEFAULT_LABELS[0]}"]
        search = (
            f'SEARCH(\'{{{metrics_namespace()},{",".join(dimensions)}}} MetricName="Predictions" '
            f"model=\"{model}\"', 'Sum', 300)"
        )
        assert expressions[f"{model}Shares"] == f"100 * {search} / {model}Rows"
        assert dimensions["service"] == service_name()


def test_the_dashboard_shows_each_challengers_agreement_and_every_cell_of_the_flip_matrix() -> None:
    widgets = {widget["properties"]["title"]: widget["properties"] for widget in dashboard()["widgets"]}
    (agreement,) = [widget for title, widget in widgets.items() if title.startswith("Challenger agreement")]
    expressions = {
        entry[0]["id"]: entry[0]["expression"] for entry in agreement["metrics"] if isinstance(entry[0], dict)
    }
    assert expressions == {f"{model}Agreement": f"100 * {model}Agreed / {model}ShadowRows" for model in MODELS}
    shown = {entry[-1]["id"]: entry[1] for entry in agreement["metrics"] if isinstance(entry[0], str)}
    assert shown == {
        **{f"{model}Agreed": "ShadowAgreedRows" for model in MODELS},
        **{f"{model}ShadowRows": "ShadowRows" for model in MODELS},
    }
    # The flips: every pair of labels a challenger wrote, searched by the dimensions the layer writes them with
    (flips,) = [widget for title, widget in widgets.items() if title.startswith("Challenger flips")]
    ((search,),) = flips["metrics"]
    written = written_metrics("sklearn")[f"ShadowFlips:{DEFAULT_LABELS[0]}:{DEFAULT_LABELS[1]}"]
    assert search["expression"] == (
        f"SEARCH('{{{metrics_namespace()},{','.join(written)}}} MetricName=\"ShadowFlips\"', 'Sum', 300)"
    )
    assert "PROP('Dim.champion_label')" in search["label"]
    assert "PROP('Dim.challenger_label')" in search["label"]


def test_the_dashboards_log_queries_read_the_stacks_log_groups() -> None:
    queries = [widget["properties"]["query"] for widget in dashboard()["widgets"] if widget["type"] == "log"]
    functions_groups = {f"/aws/lambda/{STACK.stack_name}/{route}" for route in ("sklearn", "pytorch", "astromech")}
    (rejections,) = [query for query in queries if "request rejected" in query]
    assert set(re.findall(r"SOURCE '([^']+)'", rejections)) == functions_groups
    (restores,) = [query for query in queries if "restoreDurationMs" in query]
    assert set(re.findall(r"SOURCE '([^']+)'", restores)) == functions_groups
    (gateway,) = [query for query in queries if "/aws/apigateway/" in query]
    assert re.findall(r"SOURCE '([^']+)'", gateway) == [f"/aws/apigateway/{STACK.stack_name}/access"]


@pytest.mark.parametrize("zero", ["0", "0.0", "00", "0.000", "+0", "-0", "0e0", "0E+0"])
def test_without_capture_the_stack_has_no_capture_bucket_or_delivery(zero: str) -> None:
    template = deployed(DataCapturePercent=zero)
    for kind in CAPTURE_RESOURCES:
        assert resources_of_type(template, kind), kind
        assert created(template, kind) == {}, kind
    output = template["Outputs"]["CaptureBucketName"]
    assert not holds(template, {"Condition": output["Condition"]})


@pytest.mark.parametrize("percent", ["0.5", "0.01", "1", "10", "100", "1e1"])
def test_any_share_above_zero_creates_the_capture_delivery(percent: str) -> None:
    template = deployed(DataCapturePercent=percent)
    for kind in CAPTURE_RESOURCES:
        assert created(template, kind) == resources_of_type(template, kind) != {}, kind


def test_with_capture_the_lines_go_through_firehose_to_an_encrypted_private_expiring_bucket() -> None:
    template = deployed(DataCapturePercent="5", DataCaptureExpiryDays="14")
    for kind in CAPTURE_RESOURCES:
        assert created(template, kind) == resources_of_type(template, kind), kind
    resources = template["Resources"]
    bucket = resources["CaptureBucket"]
    assert (bucket["DeletionPolicy"], bucket["UpdateReplacePolicy"]) == ("Retain", "Retain")
    properties = bucket["Properties"]
    (encryption,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}
    assert len(properties["PublicAccessBlockConfiguration"]) == 4
    (rule,) = properties["LifecycleConfiguration"]["Rules"]
    assert (rule["Status"], rule["ExpirationInDays"]) == ("Enabled", "14")
    stream = resources["CaptureDeliveryStream"]["Properties"]
    destination = stream["ExtendedS3DestinationConfiguration"]
    assert destination["BucketARN"] == {"Fn::GetAtt": ["CaptureBucket", "Arn"]}
    assert destination["Prefix"].startswith("capture/")
    processors = {
        processor["Type"]: processor.get("Parameters", [])
        for processor in destination["ProcessingConfiguration"]["Processors"]
    }
    assert processors["CloudWatchLogProcessing"] == [
        {"ParameterName": "DataMessageExtraction", "ParameterValue": "true"}
    ]
    assert {"Decompression", "AppendDelimiterToRecord"} <= set(processors)
    assert stream["DeliveryStreamEncryptionConfigurationInput"] == {"KeyType": "AWS_OWNED_CMK"}
    role = resources["CaptureDeliveryRole"]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "firehose.amazonaws.com"}


def test_with_capture_each_functions_log_group_sends_its_capture_lines_to_firehose() -> None:
    resources = deployed(DataCapturePercent="5")["Resources"]
    filters = resources_of_type({"Resources": resources}, "AWS::Logs::SubscriptionFilter")
    groups = {subscription["Properties"]["LogGroupName"]["Ref"] for subscription in filters.values()}
    assert groups == {"SklearnLogGroup", "PytorchLogGroup", "AstromechLogGroup"}
    for subscription in filters.values():
        assert subscription["Properties"]["DestinationArn"] == {"Fn::GetAtt": ["CaptureDeliveryStream", "Arn"]}
        assert subscription["Properties"]["RoleArn"] == {"Fn::GetAtt": ["CaptureSubscriptionRole", "Arn"]}
    (statement,) = resources["CaptureSubscriptionRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert statement["Resource"] == {"Fn::GetAtt": ["CaptureDeliveryStream", "Arn"]}
    assert set(statement["Action"]) == {"firehose:PutRecord", "firehose:PutRecordBatch"}


def filter_pattern_matches(pattern: str, event: dict[str, Any]) -> bool:
    """CloudWatch Logs' JSON filter pattern, for the form the template uses: `{ $.a.b = "x" && ... }`."""
    body = re.fullmatch(r"\{\s*(.*?)\s*\}", pattern)
    assert body is not None
    matched = True
    for term in body[1].split("&&"):
        found = re.fullmatch(r'\s*\$\.([\w.]+)\s*=\s*"([^"]*)"\s*', term)
        assert found is not None, f"a term the test cannot read: {term}"
        value: Any = event
        for key in found[1].split("."):
            value = value.get(key) if isinstance(value, dict) else None
        matched = matched and value == found[2]
    return matched


def test_the_subscription_filter_takes_capture_records_and_no_other_line() -> None:
    (subscription, *_) = resources_of_type(deployed(DataCapturePercent="5"), "AWS::Logs::SubscriptionFilter").values()
    pattern = subscription["Properties"]["FilterPattern"]
    record = json.loads(capture_record(load_event("sklearn_single.json"), "{}", datetime.now(UTC)))
    metric_line = json.loads(written_metrics_line())
    log_line = {"level": "INFO", "message": "crystals classified", "model": "sklearn", "rows": 1}
    assert filter_pattern_matches(pattern, record)
    assert not filter_pattern_matches(pattern, metric_line)
    assert not filter_pattern_matches(pattern, log_line)


def written_metrics_line() -> str:
    monitor = ModelMonitor.create(
        namespace=metrics_namespace(),
        service=service_name(),
        model="sklearn",
        labels=tuple(DEFAULT_LABELS),
        training_range=None,
        max_rows=1,
        low_confidence_threshold=0.5,
    )
    return (monitor.lines % ((0,) * monitor.lines.count("%d"))).splitlines()[0]
