"""Models from an S3 prefix (KYBER_MODEL_SOURCE) are fetched at cold start, checked, and served."""

from __future__ import annotations

import shutil
from http import HTTPStatus
from pathlib import Path

import orjson
import pytest

from kyber.errors import ModelArtifactError
from kyber.manifest import sha256_of
from kyber.model_source import split_s3_uri
from kyber.registry import get_registry
from kyber.settings import Settings, SettingsError
from scripts.harness.events import load_event
from scripts.project import routes
from tests.support.fakes import BUCKET, PREFIX, upload
from tests.support.service import configure_service


@pytest.mark.parametrize("route", routes())
def test_models_fetched_from_s3_answer_as_the_models_layer(
    model_bucket, built_models, handler_module, lambda_context, monkeypatch, route
):
    # Given the built models uploaded to the model source
    upload(model_bucket, built_models)
    event_name = "astromech_pytorch_batch.json" if route == "astromech" else f"{route}_batch.json"
    # When the route starts cold and serves from S3, and then again from the models layer
    from_s3 = handler_module(route).lambda_handler(load_event(event_name), lambda_context)
    configure_service(monkeypatch, KYBER_MODEL_SOURCE="", KYBER_MODELS_DIR=str(built_models))
    from_layer = handler_module(route).lambda_handler(load_event(event_name), lambda_context)
    # Then both answers are the same
    assert from_s3["statusCode"] == HTTPStatus.OK
    assert from_s3["body"] == from_layer["body"]


def test_cold_start_fetches_every_listed_file_once_and_logs_it(
    model_bucket, built_models, tmp_path, handler_module, capfd
):
    # Given the built models in the model source
    upload(model_bucket, built_models)
    # When a function starts cold
    handler_module("astromech")
    # Then every file the manifest lists is in the download folder, and the fetch was logged once
    assert get_registry().models_dir == tmp_path / "downloaded"
    assert sorted(path.name for path in get_registry().models_dir.iterdir()) == sorted(
        path.name for path in built_models.iterdir()
    )
    log = capfd.readouterr().out
    assert log.count('"message":"models fetched"') == 1
    assert f'"source":"s3://{BUCKET}/{PREFIX}"' in log


def test_tampered_model_in_s3_is_refused(model_bucket, built_models, tmp_path):
    # Given an upload whose ONNX file differs from what the manifest says
    tampered = tmp_path / "tampered"
    shutil.copytree(built_models, tampered)
    with (tampered / "sklearn.onnx").open("ab") as onnx_file:
        onnx_file.write(b"\0")
    upload(model_bucket, tampered)
    # When the model is loaded, then it is refused
    with pytest.raises(ModelArtifactError, match=r"sklearn\.onnx has sha256"):
        get_registry().get("sklearn")


def test_missing_prefix_is_a_clear_cold_start_error(model_bucket):
    with pytest.raises(ModelArtifactError, match=rf"cannot fetch s3://{BUCKET}/{PREFIX}manifest\.json"):
        get_registry()


@pytest.mark.parametrize(
    "name",
    [
        "../../escape.onnx",
        "..",
        ".",
        "",
        "nested/sklearn.onnx",
        "/etc/passwd",
        "challenger/../../escape.onnx",
        "challenger/nested/sklearn.onnx",
        "challenger/",
    ],
)
def test_manifest_naming_anything_but_a_plain_file_name_is_refused(model_bucket, built_models, tmp_path, name):
    hostile = tmp_path / "hostile"
    shutil.copytree(built_models, hostile)
    manifest = orjson.loads((hostile / "manifest.json").read_bytes())
    manifest["models"]["sklearn"]["file"] = name
    (hostile / "manifest.json").write_bytes(orjson.dumps(manifest))
    upload(model_bucket, hostile)
    with pytest.raises(ModelArtifactError, match=f"the manifest names {name!r}, which is not a plain file name"):
        get_registry()


def test_a_release_with_a_challenger_is_fetched_with_it_and_served(
    model_bucket, challenger_models, handler_module, lambda_context
):
    # Given a release whose scikit-learn model has a challenger, in its folder
    upload(model_bucket, challenger_models)
    # When a function starts cold from it
    handler = handler_module("sklearn")
    # Then the challenger was fetched, verified and loaded beside its champion
    assert (get_registry().models_dir / "challenger" / "sklearn.onnx").is_file()
    assert handler.scorer.shadows["sklearn"].challenger.version != handler.scorer.models["sklearn"].version
    assert handler.lambda_handler(load_event("sklearn_single.json"), lambda_context)["statusCode"] == HTTPStatus.OK


def test_the_download_folder_is_created_with_its_parents_or_reused(model_bucket, built_models, tmp_path, monkeypatch):
    upload(model_bucket, built_models)
    nested = tmp_path / "a" / "b" / "models"
    configure_service(monkeypatch, KYBER_DOWNLOAD_DIR=str(nested))
    assert get_registry().models_dir == nested
    # A second cold start in the same execution environment finds the folder there already
    configure_service(monkeypatch, KYBER_DOWNLOAD_DIR=str(nested))
    assert sorted(path.name for path in get_registry().models_dir.iterdir()) == sorted(
        path.name for path in built_models.iterdir()
    )


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket/models/v2/", ("bucket", "models/v2/")),
        ("s3://bucket/models/v2", ("bucket", "models/v2/")),
        ("s3://bucket", ("bucket", "")),
        ("s3://bucket/", ("bucket", "")),
        ("s3://bucket///", ("bucket", "")),
        ("s3://bucket/X", ("bucket", "X/")),
        ("s3://bucket/models/X//", ("bucket", "models/X/")),
    ],
)
def test_s3_uri_is_split_into_bucket_and_prefix(uri, expected):
    assert split_s3_uri(uri) == expected


@pytest.mark.parametrize("uri", ["s3://", "s3:///models/"])
def test_s3_uri_without_bucket_is_refused(uri):
    with pytest.raises(ModelArtifactError, match="s3://bucket/prefix/"):
        split_s3_uri(uri)


def test_model_source_that_is_not_s3_is_a_settings_error():
    with pytest.raises(SettingsError, match="KYBER_MODEL_SOURCE"):
        Settings.from_environ({"KYBER_MODEL_SOURCE": "https://example.com/models/"})


@pytest.mark.parametrize("value", ["0", "-5", "many"])
def test_bad_row_limit_is_a_settings_error(value):
    with pytest.raises(SettingsError, match="KYBER_MAX_ROWS"):
        Settings.from_environ({"KYBER_MAX_ROWS": value})


def test_a_manifest_in_s3_that_is_not_json_is_refused_naming_where_it_was_fetched_to(model_bucket, tmp_path):
    model_bucket.put_object(Bucket=BUCKET, Key=PREFIX + "manifest.json", Body=b"{models")
    with pytest.raises(ModelArtifactError, match=rf"^{tmp_path / 'downloaded' / 'manifest.json'} is not JSON"):
        get_registry()


def release_prefix(folder: Path) -> str:
    """Where the ML team uploads a built models folder: under its manifest's SHA-256."""
    return f"releases/{sha256_of(folder / 'manifest.json')}/"


def test_a_release_named_after_its_manifest_is_served(model_bucket, built_models, monkeypatch):
    # Given the built models uploaded as a release, and the service pointed at it
    upload(model_bucket, built_models, release_prefix(built_models))
    configure_service(monkeypatch, KYBER_MODEL_SOURCE=f"s3://{BUCKET}/{release_prefix(built_models)}")
    # When the models load, then the release's are served
    assert (
        get_registry().get("sklearn").version
        == orjson.loads((built_models / "manifest.json").read_bytes())["models"]["sklearn"]["sha256"][:12]
    )


def test_a_release_changed_in_place_is_refused(model_bucket, built_models, tmp_path, monkeypatch):
    # Given a release, then its manifest replaced in place by another valid one
    release = release_prefix(built_models)
    upload(model_bucket, built_models, release)
    changed = tmp_path / "changed"
    shutil.copytree(built_models, changed)
    manifest = orjson.loads((changed / "manifest.json").read_bytes())
    (changed / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2))
    upload(model_bucket, changed, release)
    configure_service(monkeypatch, KYBER_MODEL_SOURCE=f"s3://{BUCKET}/{release}")
    # When the models load at the next publish, then the release is refused, naming what it found
    found = sha256_of(changed / "manifest.json")
    with pytest.raises(ModelArtifactError) as refused:
        get_registry()
    assert str(refused.value) == (
        f"s3://{BUCKET}/{release}manifest.json has sha256 {found}, not the one its release is named after: "
        "a release is never changed in place; upload a new one under its own hash and deploy that"
    )
