"""Each function as `sam build` leaves it, with all its layers, fits Lambda's 250 MB unzipped limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from kyber.manifest import read_manifest
from scripts.project import REPO
from tests.support.service import DEPLOYED_SIZES

BUILD_DIR = REPO / ".aws-sam" / "build"
UNZIPPED_LIMIT = 250 * 1024 * 1024
FUNCTIONS = ["SklearnFunction", "PytorchFunction", "AstromechFunction"]
LAYERS = ["KyberLayer", "ModelsLayer"]


def tree_size(root: Path) -> int:
    return sum(path.lstat().st_size for path in root.rglob("*") if path.is_file() and not path.is_symlink())


@pytest.fixture(scope="module")
def built() -> Path:
    if not (BUILD_DIR / "template.yaml").is_file():
        pytest.fail(f"{BUILD_DIR} holds no build: run `make build` (sam build) first")
    return BUILD_DIR


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_with_its_layers_fits_the_unzipped_limit(built, function):
    sizes = {name: tree_size(built / name) for name in [function, *LAYERS]}
    total = sum(sizes.values())
    parts = ", ".join(f"{name} {size / 2**20:.2f} MiB" for name, size in sizes.items())
    DEPLOYED_SIZES[function] = f"{total / 2**20:.1f} MiB ({parts})"
    assert all(sizes.values())
    assert total < UNZIPPED_LIMIT


def test_the_models_layer_holds_only_its_manifest_and_the_files_it_lists(built):
    # The build's own tools (torch, matplotlib for the cards' figures) never enter the layer

    layer = built / "ModelsLayer"
    listed = ["manifest.json", *read_manifest(layer / "models").files()]
    files = sorted(str(path.relative_to(layer)) for path in layer.rglob("*"))
    assert files == sorted(["models", *(f"models/{name}" for name in listed)])
