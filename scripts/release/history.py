"""What served when, read from AWS itself: each function's published versions (when each was published, the release
it serves: its ModelSource, or the models layer version it has), where `live` points, and how each CodeDeploy
deployment to a version ended; each release's models and accuracy from its manifest in S3."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scripts.project import MODELS_LAYER_SOURCE, resources
from scripts.release.aws import ALIAS, Aws, Function, Stack
from scripts.release.deploy import Deployment, deployments
from scripts.release.store import ReleaseStoreError, release_manifest

MODEL_SOURCE_VARIABLE = "KYBER_MODEL_SOURCE"


def models_layer_name() -> str:
    """The models layer's name in Lambda: SAM names a layer after its logical id when the template gives no name."""
    (name,) = (
        layer["Properties"].get("LayerName", logical_id)
        for logical_id, layer in resources("AWS::Serverless::LayerVersion").items()
        if layer["Properties"]["ContentUri"] == MODELS_LAYER_SOURCE
    )
    return str(name)


@dataclass(frozen=True)
class Release:
    """What a version serves: an S3 release (its URI), or, with no ModelSource, the models layer version it has."""

    uri: str
    layer: str

    @property
    def key(self) -> str:
        """What identifies the models served: the S3 release, whatever layers the version has; else its layer."""
        return self.uri or self.layer

    @property
    def short(self) -> str:
        if self.uri:
            return self.uri.rstrip("/").rsplit("/", 1)[-1][:12]
        return "layer " + self.layer.split(":layer:", 1)[-1]


@dataclass(frozen=True)
class Version:
    route: str
    number: int
    published: str
    release: Release
    live: bool
    deployments: tuple[Deployment, ...]

    @property
    def served(self) -> bool:
        """Whether `live` ever pointed here: it does now, a deployment moved it here, or one moved it away."""
        return self.live or any(
            (one.status == "Succeeded" and one.target_version == str(self.number))
            or one.current_version == str(self.number)
            for one in self.deployments
        )


def _release_of(configuration: dict[str, Any]) -> Release:
    source = configuration.get("Environment", {}).get("Variables", {}).get(MODEL_SOURCE_VARIABLE, "")
    layer = f":layer:{models_layer_name()}:"
    layers = [entry["Arn"] for entry in configuration.get("Layers", []) if layer in entry["Arn"]]
    return Release(uri=source, layer=layers[0] if layers else "")


def function_versions(aws: Aws, stack: Stack, function: Function) -> list[Version]:
    """The function's published versions, newest first, each with the deployments that involved it."""
    configurations: list[dict[str, Any]] = []
    for page in aws.functions.get_paginator("list_versions_by_function").paginate(FunctionName=function.name):
        configurations.extend(entry for entry in page["Versions"] if entry["Version"] != "$LATEST")
    live = aws.functions.get_alias(FunctionName=function.name, Name=ALIAS)["FunctionVersion"]
    found = deployments(aws, stack, function)
    versions = []
    for configuration in configurations:
        number = configuration["Version"]
        involved = tuple(one for one in found if number in (one.target_version, one.current_version))
        versions.append(
            Version(
                route=function.route,
                number=int(number),
                published=configuration["LastModified"][:19].replace("T", " "),
                release=_release_of(configuration),
                live=number == live,
                deployments=involved,
            )
        )
    return sorted(versions, key=lambda version: version.number, reverse=True)


def history(aws: Aws, stack: Stack) -> dict[str, list[Version]]:
    return {function.route: function_versions(aws, stack, function) for function in stack.functions}


def release_models(aws: Aws, release: Release) -> str:
    """The release's models, each with its version (the first 12 hex digits of its ONNX file's SHA-256) and its
    accuracy on its evaluation rows, from the release's manifest."""
    if not release.uri:
        return "the models layer's own (its manifest is inside the layer)"
    try:
        manifest = release_manifest(aws, release.uri)
    except ReleaseStoreError as error:
        return f"manifest not readable: {error}"
    return ", ".join(
        f"{name} {entry.sha256[:12]} accuracy {entry.evaluation.accuracy:.4f} ({entry.evaluation.rows} rows)"
        for name, entry in manifest.models.items()
    )


def _deployment_text(version: Version) -> str:
    arrived = [one for one in version.deployments if one.target_version == str(version.number)]
    if not arrived:
        return "no deployment to it (published with the stack, or before CodeDeploy managed it)"
    return "; ".join(f"{one.id} {one.outcome()}" for one in arrived)


def history_lines(aws: Aws, stack: Stack, versions: dict[str, list[Version]] | None = None) -> list[str]:
    """The history as printed by `make releases`: per function, newest version first, then each release's models."""
    versions = history(aws, stack) if versions is None else versions
    lines = [f"stack {stack.name} ({stack.status}), ModelSource {stack.model_source or '(empty: the models layer)'}"]
    releases: dict[str, Release] = {}
    for function in stack.functions:
        lines.append(f"/{function.route}  {function.name}")
        lines.append(f"  {'version':9} {'published':20} {'release':22} deployment")
        for version in versions[function.route]:
            releases.setdefault(version.release.short, version.release)
            number = f"{version.number}{' live' if version.live else ''}"
            lines.append(f"  {number:9} {version.published:20} {version.release.short:22} {_deployment_text(version)}")
    lines.append("releases")
    for short, release in releases.items():
        lines += [f"  {short:22} {release.uri or release.layer}", f"  {'':22} {release_models(aws, release)}"]
    return lines


Chooser = Callable[[list[Version]], Version | None]


def live_version(versions: list[Version]) -> Version | None:
    return next((version for version in versions if version.live), None)


def previous_served(versions: list[Version]) -> Version | None:
    """The newest version older than live's that served, with another release than live's."""
    live = live_version(versions)
    if live is None:
        return None
    return next(
        (
            version
            for version in versions
            if version.number < live.number and version.served and version.release.key != live.release.key
        ),
        None,
    )
