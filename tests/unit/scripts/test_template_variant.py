"""The template variant `make lint` checks: the same template with other parameter defaults, nothing else."""

from __future__ import annotations

import pytest
import yaml

from scripts.project import TEMPLATE
from scripts.template_variant import expanded, nested_stacks, with_defaults


def test_only_the_named_defaults_change():
    original = TEMPLATE.read_text()
    variant = with_defaults(original, {"DataCapturePercent": "5", "AlarmEmail": 'ops"@example.com'})
    changed = [
        (before, after)
        for before, after in zip(original.splitlines(), variant.splitlines(), strict=True)
        if before != after
    ]
    assert changed == [("    Default: 0", '    Default: "5"'), ('    Default: ""', '    Default: "ops\\"@example.com"')]
    parameters = yaml.load(variant, Loader=yaml.BaseLoader)["Parameters"]
    assert (parameters["DataCapturePercent"]["Default"], parameters["AlarmEmail"]["Default"]) == (
        "5",
        'ops"@example.com',
    )


def test_an_unknown_parameter_is_refused():
    with pytest.raises(SystemExit, match="no parameter Capture"):
        with_defaults(TEMPLATE.read_text(), {"Capture": "5"})


def test_the_checked_templates_hold_every_resource_fn_foreach_makes_and_no_loop():
    # Given the template with four labels, and its nested monitoring stack, as make lint hands them to checkov
    stack = expanded(with_defaults(TEMPLATE.read_text(), {"Labels": "blue,green,yellow,violet"}))
    (monitoring,) = nested_stacks(stack).values()
    # Then the loops are gone and what they make is there, with the skipped checks' reasons
    for resources in (stack["Resources"], monitoring["Resources"]):
        assert not [name for name in resources if name.startswith("Fn::ForEach")]
    assert {"SklearnLogGroup", "AstromechFailuresAlarm"} <= set(stack["Resources"])
    assert stack["Resources"]["PytorchLogGroup"]["Metadata"]["checkov"]["skip"][0]["id"] == "CKV_AWS_158"
    assert {"pytorchvioletShareAlarm", "sklearnOutOfRangeShareAlarm", "AlarmTopic"} <= set(monitoring["Resources"])
