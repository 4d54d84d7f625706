"""A model release in S3: the built models folder under s3://bucket/prefix/<SHA-256 of its manifest.json>/, never
changed once there. An upload reuses a release already there with the same files, completes one cut short, and
refuses a name that holds anything else."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kyber.manifest import MANIFEST_FILE, Manifest, read_manifest, sha256_of, verified_file
from kyber.model_source import RELEASE_NAME, split_s3_uri
from scripts.project import template
from scripts.release.aws import MODEL_SOURCE, Aws


class ReleaseStoreError(RuntimeError):
    """The release cannot be named, uploaded or read as asked."""


def release_uri(bucket: str, prefix: str, models_dir: Path) -> str:
    """Where the models folder goes: named after its manifest's SHA-256, in a form the stack's ModelSource accepts."""
    folder = "/".join(part for part in prefix.split("/") if part)
    uri = f"s3://{bucket}/{folder + '/' if folder else ''}{sha256_of(models_dir / MANIFEST_FILE)}/"
    pattern = template()["Parameters"][MODEL_SOURCE]["AllowedPattern"]
    if not re.fullmatch(pattern, uri):
        raise ReleaseStoreError(f"{uri} is not a ModelSource the stack accepts (template.yaml: {pattern})")
    return uri


def release_files(models_dir: Path) -> list[str]:
    """The release's files, its manifest last: a release is complete only once its manifest is there."""
    return [*read_manifest(models_dir).files(), MANIFEST_FILE]


def _keys(aws: Aws, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in aws.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    return keys


def _sha256_of_object(aws: Aws, bucket: str, key: str) -> str:
    return hashlib.sha256(aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read()).hexdigest()


@dataclass(frozen=True)
class UploadPlan:
    """What an upload of the folder to uri does: the files still missing there (none: an identical release, reused)."""

    uri: str
    missing: tuple[str, ...]
    present: tuple[str, ...]

    def summary(self) -> str:
        if not self.missing:
            return f"{self.uri} already holds this release, file for file: reused"
        if self.present:
            return (
                f"{self.uri} holds {len(self.present)} of its files, the same: the other {len(self.missing)} uploaded"
            )
        return f"{len(self.missing)} files to {self.uri}"


def plan_upload(aws: Aws, models_dir: Path, uri: str) -> UploadPlan:
    """What is under uri already, compared file by file with models_dir; a ReleaseStoreError when anything there is
    not this release's (another file, or one of its names with other bytes): a release is never changed in place."""
    bucket, prefix = split_s3_uri(uri)
    wanted = release_files(models_dir)
    present = []
    for key in _keys(aws, bucket, prefix):
        name = key.removeprefix(prefix)
        if name not in wanted:
            raise ReleaseStoreError(f"s3://{bucket}/{key} is not a file of this release: refused, {uri} is another's")
        if _sha256_of_object(aws, bucket, key) != sha256_of(models_dir / name):
            raise ReleaseStoreError(
                f"s3://{bucket}/{key} differs from this release's {name}: refused, a release is never changed in place"
            )
        present.append(name)
    return UploadPlan(uri, tuple(name for name in wanted if name not in present), tuple(present))


def upload(aws: Aws, models_dir: Path, plan: UploadPlan) -> None:
    bucket, prefix = split_s3_uri(plan.uri)
    for name in plan.missing:
        aws.s3.upload_file(str(models_dir / name), bucket, prefix + name)


def release_manifest(aws: Aws, uri: str) -> Manifest:
    """The manifest of the release at uri, once its SHA-256 is the one the release is named after."""
    bucket, prefix = split_s3_uri(uri)
    raw = _object(aws, bucket, prefix + MANIFEST_FILE)
    name = RELEASE_NAME.search(prefix)
    if name is None or hashlib.sha256(raw).hexdigest() != name[1]:
        raise ReleaseStoreError(f"{uri}{MANIFEST_FILE} is not the manifest the release is named after")
    return Manifest.from_json(raw, Path(uri + MANIFEST_FILE))


def download_release(aws: Aws, uri: str, destination: Path) -> Path:
    """The release's files in destination, each checked against its manifest, as a function's init checks them."""
    bucket, prefix = split_s3_uri(uri)
    manifest = release_manifest(aws, uri)
    destination.mkdir(parents=True, exist_ok=True)
    (destination / MANIFEST_FILE).write_bytes(_object(aws, bucket, prefix + MANIFEST_FILE))
    for name in manifest.files():
        if not (destination / name).resolve().is_relative_to(destination.resolve()):
            raise ReleaseStoreError(f"{uri}{MANIFEST_FILE} names {name!r}, which is outside the release")
        (destination / name).parent.mkdir(parents=True, exist_ok=True)
        (destination / name).write_bytes(_object(aws, bucket, prefix + name))
    models = (*manifest.models.values(), *manifest.challengers.values())
    for entry in (manifest.labels_file, *(model.artifact for model in models), *(model.card for model in models)):
        verified_file(destination, entry)
    return destination


def _object(aws: Aws, bucket: str, key: str) -> bytes:
    from botocore.exceptions import ClientError

    try:
        body: Any = aws.s3.get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as error:
        raise ReleaseStoreError(f"cannot read s3://{bucket}/{key}: {error.response['Error']['Message']}") from None
    return bytes(body.read())
