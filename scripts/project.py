"""The facts template.yaml owns, read for the tools and the tests so that none of them retypes one: the service's
name and metrics namespace, the routes, where `sam build` puts the models, the functions' environment.

`python -m scripts.project exec COMMAND...` runs a command with what a function's init sees (its environment, its
import roots): how the Makefile runs the tools that call the handlers in-process.
"""

from __future__ import annotations

import argparse
import os
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "template.yaml"
BUILD_DIR = Path(".aws-sam") / "build"
MODELS_LAYER_SOURCE = "layers/models/"


class _TemplateLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags (!Ref, !Sub, ...) read as their long forms."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Ref" if suffix == "Ref" else f"Fn::{suffix}": value}


_TemplateLoader.add_multi_constructor("!", _intrinsic)


@cache
def template() -> dict[str, Any]:
    return yaml.load(TEMPLATE.read_text(), Loader=_TemplateLoader)


def resources(kind: str) -> dict[str, dict[str, Any]]:
    """The template's resources of one type written out, by logical id, in template order (not those an
    Fn::ForEach makes)."""
    return {
        name: resource
        for name, resource in template()["Resources"].items()
        if not name.startswith("Fn::ForEach::") and resource["Type"] == kind
    }


def literal(value: Any) -> Any:
    """A value with its Fn::FindInMap of the template's mappings resolved; anything else as it is."""
    if isinstance(value, dict) and list(value) == ["Fn::FindInMap"]:
        mapping, key, name = value["Fn::FindInMap"]
        return template()["Mappings"][mapping][key][name]
    return value


def function_variables() -> dict[str, str]:
    """The environment variables every function has, with the same literal value, in the template."""
    environments = [
        {name: literal(value) for name, value in function["Properties"]["Environment"]["Variables"].items()}
        for function in resources("AWS::Serverless::Function").values()
    ]
    first, *others = environments
    return {
        name: value
        for name, value in first.items()
        if isinstance(value, str) and all(other.get(name) == value for other in others)
    }


def service_name() -> str:
    return function_variables()["POWERTOOLS_SERVICE_NAME"]


def metrics_namespace() -> str:
    return function_variables()["POWERTOOLS_METRICS_NAMESPACE"]


def routes() -> tuple[str, ...]:
    """Each function's POST route, without its slash, in template order: sklearn, pytorch, astromech."""
    found = []
    for function in resources("AWS::Serverless::Function").values():
        for event in function["Properties"]["Events"].values():
            if event["Properties"]["Method"] == "post":
                found.append(event["Properties"]["Path"].lstrip("/"))
    return tuple(found)


def built_models(project: Path = REPO) -> Path:
    """The models folder `sam build` writes in project: the models layer's build, under the folder name the
    functions read it from (KYBER_MODELS_DIR)."""
    layers = resources("AWS::Serverless::LayerVersion")
    (layer,) = (name for name, layer in layers.items() if layer["Properties"]["ContentUri"] == MODELS_LAYER_SOURCE)
    return project / BUILD_DIR / layer / Path(function_variables()["KYBER_MODELS_DIR"]).name


def service_environment(models_dir: Path | None = None) -> dict[str, str]:
    """What a function's init sees, with its models read from models_dir (default: the build's)."""
    return {**function_variables(), "KYBER_MODELS_DIR": str(models_dir or built_models())}


def python_path() -> list[str]:
    """The import roots Lambda gives the handlers (/var/task, /opt/python), as pytest's pythonpath names them."""
    settings = tomllib.loads((REPO / "pyproject.toml").read_text())
    return [str(REPO / entry) for entry in settings["tool"]["pytest"]["ini_options"]["pythonpath"]]


def process_environment(**overrides: str) -> dict[str, str]:
    """This process's environment with what a function's init sees added: for a child process that imports the
    handlers. The template's default log level unless this environment sets one."""
    log_level = template()["Parameters"]["LogLevel"]["Default"]
    return {
        "POWERTOOLS_LOG_LEVEL": log_level,
        **service_environment(),
        **os.environ,
        "PYTHONPATH": os.pathsep.join(python_path()),
        **overrides,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("exec", help="run a command with a function's environment and import roots")
    run.add_argument("argv", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    if not options.argv:
        parser.error("exec needs a command")
    os.execvpe(options.argv[0], options.argv, process_environment())


if __name__ == "__main__":
    main()
