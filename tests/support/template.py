"""This project's template as CloudFormation would create it: read, expanded through SAM CLI's LanguageExtensions
and samtranslator with the stack's parameters, and looked into by resource type. For the template's tests."""

from __future__ import annotations

import copy
import hashlib
import logging
from collections.abc import Mapping
from functools import cache
from typing import Any

import boto3
from samcli.yamlhelper import yaml_parse
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from scripts.cloudformation import STACK, language_extensions, parameter_values
from scripts.project import REPO

__all__ = ["STACK", "deployed", "only", "resources_of_type", "source_template", "transformed"]


@cache
def source_template() -> dict[str, Any]:
    return yaml_parse((REPO / "template.yaml").read_text())


def transformed(source: dict[str, Any], parameters: Mapping[str, str]) -> dict[str, Any]:
    """The CloudFormation template `sam deploy` would create the stack from."""
    template = language_extensions(copy.deepcopy(source), parameters)
    for resource in template["Resources"].values():
        for uri in ("CodeUri", "ContentUri"):
            if uri in resource.get("Properties", {}):
                # `sam package` uploads each folder under a hash of its content.
                digest = hashlib.md5(resource["Properties"][uri].encode()).hexdigest()
                resource["Properties"][uri] = f"s3://kyber-artifacts/{digest}"
    translator = Translator(None, Parser(), boto_session=boto3.Session(region_name="eu-west-1"))
    # samtranslator logs a notice per function about a feature toggle it has no config for.
    logging.getLogger("samtranslator").setLevel(logging.ERROR)
    return dict(translator.translate(template, parameter_values(source, parameters), get_managed_policy_map=dict))


@cache
def _deployed(parameter_items: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return transformed(source_template(), dict(parameter_items))


def deployed(**parameters: str) -> dict[str, Any]:
    """This project's template, deployed with these parameters (defaults for the rest)."""
    return copy.deepcopy(_deployed(tuple(sorted(parameters.items()))))


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items() if resource["Type"] == kind}


def only(resources: dict[str, dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    (item,) = resources.items()
    return item
