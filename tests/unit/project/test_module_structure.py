"""How the code hangs together: no import loop, every import pointing down (tests -> tooling -> functions ->
layers), one core under two faces that know nothing of each other, the models build apart from the serving code, no
tracing SDK, AWS SDK or web framework on a function's init path, and error statuses that follow the error classes."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tomllib
from http import HTTPStatus
from pathlib import Path

import pytest

import kyber
import model_build
from kyber.api import status_of
from kyber.errors import BatchTooLargeError, CrystalBatchError, ModelChoiceError, ServiceError
from scripts.harness.events import load_event
from scripts.project import REPO, routes
from tests.support.service import TEST_ENVIRONMENT

# Where the layer's package and the models build are imported from (the repository, or a copy of it).
KYBER_ROOT = Path(kyber.__file__).resolve().parent.parent
MODELS_ROOT = Path(model_build.__file__).resolve().parent.parent
PROJECT_PACKAGES = ("kyber", "functions", "scripts", "tests", "model_build")
# What each part of the project may import, besides itself: the arrows point from tests down to the layers.
MAY_IMPORT = {
    "kyber": set(),
    "model_build": {"kyber"},
    "functions": {"kyber"},
    "scripts": {"kyber", "functions", "model_build"},
    "tests": set(PROJECT_PACKAGES),
}
# The serving code's faces, each a package that reads its requests and writes its answers over the core.
FACES = ("kyber.droids", "kyber.inference_protocol")
# What speaks HTTP: the router, the proxy responses, the routes' descriptions and the request bodies' parsing.
HTTP_MODULES = {"kyber.api", "kyber.responses", "kyber.route_docs", "kyber.validation"}


def module_name(path: Path) -> str:
    root = next((root for root in (KYBER_ROOT, MODELS_ROOT) if path.is_relative_to(root)), REPO)
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_imports(path: Path) -> set[str]:
    """The project modules a file imports, at module level or inside functions."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module)
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    return {name for name in imported if name.split(".")[0] in PROJECT_PACKAGES}


def import_graph() -> dict[str, set[str]]:
    files = [
        *(KYBER_ROOT / "kyber").rglob("*.py"),
        *(MODELS_ROOT / "model_build").glob("*.py"),
        *(REPO / "functions").glob("*/app.py"),
        *(REPO / "scripts").rglob("*.py"),
        *(REPO / "tests").rglob("*.py"),
    ]
    modules = {module_name(path): path for path in files}
    return {name: project_imports(path) & modules.keys() for name, path in modules.items()}


def test_no_module_of_the_project_imports_itself_through_others():
    graph = import_graph()
    assert "kyber.registry" in graph
    assert "kyber.model_source" in graph["kyber.registry"]

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for name in graph[start] - seen:
            seen.add(name)
            if name == goal or reaches(name, goal, seen):
                return True
        return False

    assert [name for name in graph if reaches(name, name, set())] == []


def reached_from(graph: dict[str, set[str]], start: str) -> set[str]:
    """The modules start imports, directly or through others."""
    reached: set[str] = set()
    waiting = [start]
    while waiting:
        for name in graph[waiting.pop()] - reached:
            reached.add(name)
            waiting.append(name)
    return reached


def of_face(name: str, face: str) -> bool:
    return name == face or name.startswith(f"{face}.")


def test_the_core_imports_no_face_and_nothing_that_speaks_http():
    graph = import_graph()
    reached = reached_from(graph, "kyber.core")
    assert {"kyber.registry", "kyber.shadow", "kyber.monitoring"} <= reached
    assert [name for name in reached if any(of_face(name, face) for face in FACES)] == []
    assert reached & HTTP_MODULES == set()


@pytest.mark.parametrize("face", FACES)
def test_a_face_imports_the_core_and_never_the_other_face(face: str):
    graph = import_graph()
    modules = [name for name in graph if of_face(name, face)]
    assert f"{face}.routes" in modules
    reached = set().union(*(reached_from(graph, name) for name in modules))
    assert "kyber.core" in reached
    (other,) = set(FACES) - {face}
    assert [name for name in reached if of_face(name, other)] == []


def test_every_import_points_down_from_tests_to_tooling_to_functions_to_layers():
    graph = import_graph()
    assert "scripts.perf.benchmark" in graph
    assert "tests.conftest" in graph
    upward = {
        (name, imported)
        for name, imports in graph.items()
        for imported in imports
        if imported.split(".")[0] != name.split(".")[0] and imported.split(".")[0] not in MAY_IMPORT[name.split(".")[0]]
    }
    assert upward == set()


def test_a_test_module_imports_no_other_test_module_and_no_conftest():
    # Shared fakes and helpers live in tests/support; a test module or a conftest is never a library.
    graph = import_graph()
    assert "tests.unit.kyber.test_core" in graph
    borrowed = {
        (name, imported)
        for name, imports in graph.items()
        if name.startswith("tests.")
        for imported in imports
        if imported != name
        and (imported.rsplit(".", 1)[-1].startswith("test_") or imported.rsplit(".", 1)[-1] == "conftest")
    }
    assert borrowed == set()


def imported_by(statement: str, environment: dict[str, str]) -> set[str]:
    """The modules a fresh interpreter has loaded after running statement."""
    program = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=REPO,
        env={**os.environ, **environment, "PYTHONPATH": os.pathsep.join(map(str, [KYBER_ROOT, MODELS_ROOT, REPO]))},
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_the_models_build_does_not_import_the_serving_code():
    modules = imported_by("import model_build.layer", {})
    assert {"kyber.manifest", "kyber.labels"} <= modules
    assert not {"kyber.registry", "kyber.core", "kyber.api", "kyber.observability"} & modules
    assert not any(name.startswith("aws_lambda_powertools") for name in modules)


@pytest.mark.parametrize("route", routes())
def test_a_functions_init_imports_no_tracing_sdk_no_aws_sdk_and_no_event_handler(built_models: Path, route: str):
    modules = imported_by(f"import functions.{route}.app", {**TEST_ENVIRONMENT, "KYBER_MODELS_DIR": str(built_models)})
    assert f"functions.{route}.app" in modules
    assert "onnxruntime" in modules
    assert not [name for name in modules if name.split(".")[0] in {"aws_xray_sdk", "boto3"}]
    # Routing is kyber.api's: Powertools' event handler is a noticeable part of a cold start to import
    # (docs/design.md, decision 5).
    assert not [name for name in modules if name.startswith("aws_lambda_powertools.event_handler")]
    # Powertools imports the bare botocore package (none of its modules) to tag its user agent.
    assert not [name for name in modules if name.startswith("botocore.")]


class UnreadableSampleError(CrystalBatchError):
    """A kind of 422 the status table does not name."""


class ServiceBusyError(ServiceError):
    """A kind of client error the status table does not name."""


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (ModelChoiceError("m"), HTTPStatus.BAD_REQUEST),
        (CrystalBatchError("m"), HTTPStatus.UNPROCESSABLE_ENTITY),
        (BatchTooLargeError("m"), HTTPStatus.REQUEST_ENTITY_TOO_LARGE),
        (UnreadableSampleError("m"), HTTPStatus.UNPROCESSABLE_ENTITY),
        (ServiceBusyError("m"), HTTPStatus.BAD_REQUEST),
    ],
)
def test_an_errors_status_is_that_of_its_nearest_class_in_the_table(error: ServiceError, status: HTTPStatus):
    assert status_of(error) == status


@pytest.mark.parametrize("route", routes())
def test_the_not_found_answer_names_the_route_the_function_has(invoke, route):
    # Given a request for a path the function does not serve
    event = load_event("sklearn_single.json")
    event["path"] = "/tensorflow"
    # When it is answered, then the 404 names the droids' route the function has: the one template.yaml sends it
    answer = invoke(route, event)
    assert answer.status == HTTPStatus.NOT_FOUND
    assert answer.body == {"message": f"no such route; POST /{route}"}


def test_reading_a_tolerance_or_a_manifest_imports_no_torch():
    modules = imported_by("from model_build.parity import PARITY_TOLERANCE\nimport kyber.manifest", {})
    assert {"model_build.parity", "kyber.manifest"} <= modules
    assert not [name for name in modules if name.split(".")[0] == "torch"]


def test_the_servers_version_is_the_projects():
    from kyber.inference_protocol import SERVER_VERSION

    assert tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"] == SERVER_VERSION


def test_a_tool_that_needs_the_crystal_mlp_alone_imports_no_stage_of_the_build():
    modules = imported_by("import model_build.crystal_mlp", {})
    assert "torch" in modules
    assert not {"sklearn", "skl2onnx", "onnx", "matplotlib"} & {name.split(".")[0] for name in modules}
