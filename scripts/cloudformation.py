"""template.yaml as CloudFormation's AWS::LanguageExtensions hands it to SAM's transform: Fn::ForEach expanded, and
what the parameter values settle resolved (every Fn::If; in Resources and Outputs every Ref to a parameter, Fn::Sub,
Fn::Join, Fn::FindInMap...). SAM CLI's own copy of the transform, with the two corrections below. The tests read the
stack through it, and `make lint` gives checkov the resources the stack really creates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from samcli.lib.cfn_language_extensions import processors, resolvers
from samcli.lib.cfn_language_extensions.api import IntrinsicResolverProcessor
from samcli.lib.cfn_language_extensions.models import PseudoParameterValues, ResolutionMode, TemplateProcessingContext
from samcli.lib.cfn_language_extensions.pipeline import ProcessingPipeline
from samcli.lib.cfn_language_extensions.resolvers.base import IntrinsicResolver
from samcli.lib.cfn_language_extensions.resolvers.fn_sub import PLACEHOLDER_PATTERN

STACK = PseudoParameterValues(region="eu-west-1", account_id="123456789012", stack_name="kyber-crystal-classifier")


def parameter_values(template: dict[str, Any], parameters: Mapping[str, str]) -> dict[str, str]:
    """Every parameter's value as CloudFormation passes them to the transforms: strings, defaults filled in."""
    values = {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()}
    values.update(parameters)
    return values


class SubKeepingWhatItCannotResolve(resolvers.FnSubResolver):
    """SAM CLI's copy returns a partly resolved Fn::Sub as a bare string ("${SklearnFunction}:live");
    CloudFormation keeps the Fn::Sub around the references only it can resolve."""

    def resolve(self, value: dict[str, Any]) -> Any:
        resolved = super().resolve(value)
        return {"Fn::Sub": resolved} if PLACEHOLDER_PATTERN.search(resolved) else resolved


class JoinKeepingWhatItCannotResolve(resolvers.FnJoinResolver):
    """SAM CLI's copy writes an Fn::Join of a resource's attribute as the attribute's text ("{'Fn::GetAtt': ...}");
    CloudFormation keeps the Fn::Join for a list it cannot resolve before the resources exist."""

    def resolve(self, value: dict[str, Any]) -> Any:
        delimiter, items = self.get_function_args(value)
        items = self.parent.resolve_value(items) if self.parent is not None else items
        if isinstance(items, list) and any(isinstance(item, dict) for item in items):
            return {"Fn::Join": [delimiter, items]}
        return super().resolve({"Fn::Join": [delimiter, items]})


def language_extensions(template: dict[str, Any], parameters: Mapping[str, str]) -> dict[str, Any]:
    """The template AWS::LanguageExtensions hands to SAM's transform: SAM CLI's copy of it, its own
    default pipeline and resolvers, with the Fn::Sub and Fn::Join above."""
    context = TemplateProcessingContext(
        fragment=template,
        parameter_values=parameter_values(template, parameters),
        pseudo_parameters=STACK,
        resolution_mode=ResolutionMode.PARTIAL,
    )
    resolver = IntrinsicResolver(context)
    for kind in (
        resolvers.ConditionResolver,
        resolvers.FnIfResolver,
        resolvers.FnRefResolver,
        resolvers.FnBase64Resolver,
        JoinKeepingWhatItCannotResolve,
        resolvers.FnSplitResolver,
        SubKeepingWhatItCannotResolve,
        resolvers.FnSelectResolver,
        resolvers.FnLengthResolver,
        resolvers.FnFindInMapResolver,
        resolvers.FnToJsonStringResolver,
    ):
        resolver.register_resolver(kind)
    pipeline = ProcessingPipeline(
        [
            processors.TemplateParsingProcessor(),
            processors.ForEachProcessor(intrinsic_resolver=resolver),
            IntrinsicResolverProcessor(resolver),
            processors.DeletionPolicyProcessor(),
            processors.UpdateReplacePolicyProcessor(),
        ]
    )
    return dict(pipeline.process_template(context))
