"""Writes template.yaml as CloudFormation creates the stack's resources from it, for the checks that read a template
(checkov): Fn::ForEach expanded and the parameters resolved by AWS::LanguageExtensions (scripts/cloudformation.py),
with the defaults given, so that `make lint` checks the resources the stack really creates, with capture and alarm
mail off (the defaults) and on. Each nested stack (stacks/) is written beside it, from the parameters the stack
passes it: OUT's name with the nested stack's logical id (template.json: template-Monitoring.json).

Usage: python -m scripts.template_variant OUT [NAME=VALUE...]
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from samcli.yamlhelper import yaml_parse

from scripts.cloudformation import language_extensions
from scripts.project import REPO, TEMPLATE, template


def _default_line(found: re.Match[str], value: str) -> str:
    return found[1] + value


def with_defaults(text: str, defaults: dict[str, str]) -> str:
    """The template's text with each named parameter's Default line set to the value given."""
    for name, value in defaults.items():
        if name not in template()["Parameters"]:
            raise SystemExit(f"template.yaml has no parameter {name}")
        pattern = re.compile(rf"(^  {re.escape(name)}:\n(?:    .*\n)*?    Default: ).*$", re.MULTILINE)
        quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        # A function, not a replacement string: the value's backslashes stay as they are.
        text, replaced = pattern.subn(partial(_default_line, value=quoted), text, count=1)
        if not replaced:
            raise SystemExit(f"template.yaml's {name} has no Default line")
    return text


def expanded(text: str, parameters: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A template's text as AWS::LanguageExtensions hands it on, with these parameters (else the defaults)."""
    return language_extensions(yaml_parse(text), parameters or {})


def nested_stacks(stack: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each nested stack of an expanded template, by logical id, expanded with the parameters it is passed."""
    return {
        name: expanded((REPO / resource["Properties"]["Location"]).read_text(), resource["Properties"]["Parameters"])
        for name, resource in stack["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Application"
    }


def main(arguments: list[str]) -> None:
    out, *pairs = arguments
    defaults = dict(pair.split("=", 1) for pair in pairs)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    stack = expanded(with_defaults(TEMPLATE.read_text(), defaults))
    path.write_text(json.dumps(stack, indent=1))
    for name, nested in nested_stacks(stack).items():
        path.with_stem(f"{path.stem}-{name}").write_text(json.dumps(nested, indent=1))


if __name__ == "__main__":
    main(sys.argv[1:])
