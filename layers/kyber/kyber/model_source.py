"""Compiled models from S3: a deployment can ship new models by uploading a built models folder.

The prefix holds what `sam build` writes to the models layer (manifest.json, the labels file and
the ONNX files); the registry then checks them against the manifest exactly as it does /opt/models.
A model release is a prefix named after its manifest's SHA-256 (the stack accepts no other): the
manifest hashes every file, so the name pins the whole release, and one changed in place is refused.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

from kyber.errors import ModelArtifactError
from kyber.manifest import CHALLENGER_DIR, MANIFEST_FILE, Manifest, sha256_of

RELEASE_NAME = re.compile(r"(?:^|/)([0-9a-f]{64})/$")


@lru_cache(maxsize=1)
def s3_client() -> Any:
    import boto3  # in the Lambda runtime; only needed when models come from S3

    return boto3.client("s3")


def split_s3_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/some/prefix -> ("bucket", "some/prefix/")."""
    if not uri.startswith("s3://") or not uri[5:].split("/", 1)[0]:
        raise ModelArtifactError(f"model source must look like s3://bucket/prefix/, got {uri!r}")
    bucket, _, prefix = uri[5:].partition("/")
    return bucket, f"{prefix.rstrip('/')}/" if prefix.strip("/") else ""


def _is_plain(name: str) -> bool:
    # A path's last part is the path itself only for plain names, "" and ".." ("." has none).
    return PurePosixPath(name).name == name and name not in {"", ".."}


def _release_file_name(name: str) -> str:
    """A file the manifest names: a plain file name, or one in the challengers' folder."""
    folder, _, rest = name.partition("/")
    if not (_is_plain(name) or (folder == CHALLENGER_DIR and _is_plain(rest))):
        raise ModelArtifactError(f"the manifest names {name!r}, which is not a plain file name")
    return name


def download_models(uri: str, destination: Path) -> Path:
    """Fetch the manifest and every file it lists from the S3 prefix into destination."""
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, prefix = split_s3_uri(uri)
    destination.mkdir(parents=True, exist_ok=True)

    def fetch(name: str) -> Path:
        target = destination / name
        target.parent.mkdir(exist_ok=True)
        try:
            s3_client().download_file(bucket, prefix + name, str(target))
        except (BotoCoreError, ClientError) as exc:
            raise ModelArtifactError(f"cannot fetch s3://{bucket}/{prefix}{name}: {exc}") from exc
        return target

    manifest_path = fetch(MANIFEST_FILE)
    check_release(bucket, prefix, manifest_path)
    for name in Manifest.from_json(manifest_path.read_bytes(), manifest_path).files():
        fetch(_release_file_name(name))
    return destination


def check_release(bucket: str, prefix: str, manifest_path: Path) -> None:
    """Refuse a manifest that is not the one its release is named after, when the prefix names one."""
    release = RELEASE_NAME.search(prefix)
    if release is None:
        return
    found = sha256_of(manifest_path)
    if found != release[1]:
        raise ModelArtifactError(
            f"s3://{bucket}/{prefix}{MANIFEST_FILE} has sha256 {found}, not the one its release is named after: "
            "a release is never changed in place; upload a new one under its own hash and deploy that"
        )
