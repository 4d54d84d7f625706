"""Captured requests as the stack delivers them: SageMaker data-capture records, one JSON object per line, in
files that Firehose gzips (plain files are read too), in a local folder or under an S3 prefix. What a drift
report needs of them is each request's rows: a native route's crystalData, or the Open Inference Protocol's one
input tensor (flat, or nested as rows)."""

from __future__ import annotations

import base64
import binascii
import gzip
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

GZIP_MAGIC = b"\x1f\x8b"
FEATURE_COUNT = 4


class CaptureError(ValueError):
    """A capture file holds something other than data-capture records of the service's requests."""


def _text(raw: bytes) -> str:
    return (gzip.decompress(raw) if raw.startswith(GZIP_MAGIC) else raw).decode("utf-8")


def _rows_of(record: Any) -> list[list[float]]:
    """The crystalData rows of one record's request."""
    try:
        request = record["captureData"]["endpointInput"]
        data, encoding = request["data"], request["encoding"]
    except (KeyError, TypeError):
        raise CaptureError("not a data-capture record (no captureData.endpointInput data and encoding)") from None
    if encoding == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise CaptureError("its BASE64 input does not decode") from None
    elif encoding != "JSON":
        raise CaptureError(f"its input's encoding is {encoding!r}, not JSON or BASE64")
    try:
        request = json.loads(data)
    except ValueError:
        raise CaptureError("its input is not JSON") from None
    rows = _request_rows(request)
    if not isinstance(rows, list) or not all(_is_row(row) for row in rows):
        raise CaptureError(f"its input's rows are not rows of {FEATURE_COUNT} numbers")
    return [[float(value) for value in row] for row in rows]


def _request_rows(request: Any) -> Any:
    """A native request's crystalData; an inference request's one tensor, as rows of its shape."""
    if isinstance(request, dict) and "crystalData" in request:
        return request["crystalData"]
    try:
        (tensor,) = request["inputs"]
        data, rows = tensor["data"], tensor["shape"][0]
    except (KeyError, TypeError, ValueError, IndexError):
        raise CaptureError("its input is neither a request with crystalData nor an inference request") from None
    if isinstance(data, list) and data and isinstance(data[0], list):
        return data
    if not isinstance(data, list) or not isinstance(rows, int) or len(data) != rows * FEATURE_COUNT:
        raise CaptureError(f"its input tensor does not hold its shape's rows of {FEATURE_COUNT} values")
    return [data[start : start + FEATURE_COUNT] for start in range(0, len(data), FEATURE_COUNT)]


def _is_row(row: Any) -> bool:
    return (
        isinstance(row, list)
        and len(row) == FEATURE_COUNT
        and all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in row)
    )


def rows_in_lines(lines: Iterable[str], where: str) -> Iterator[list[float]]:
    """Every row of every record in lines; a CaptureError naming the line that is not one."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise CaptureError(f"{where} line {number}: not JSON") from None
        try:
            yield from _rows_of(record)
        except CaptureError as error:
            raise CaptureError(f"{where} line {number}: {error}") from None


def _local_files(folder: Path) -> Iterator[tuple[str, bytes]]:
    if not folder.is_dir():
        raise CaptureError(f"{folder} is not a folder")
    for path in sorted(item for item in folder.rglob("*") if item.is_file() and not item.name.startswith(".")):
        yield str(path), path.read_bytes()


def _s3_objects(location: str, client: Any = None) -> Iterator[tuple[str, bytes]]:
    import boto3

    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    s3 = client or boto3.client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            yield f"s3://{bucket}/{item['Key']}", body


def capture_files(location: str, client: Any = None) -> Iterator[tuple[str, str]]:
    """Each capture file in a folder, or under s3://bucket/prefix (client: an S3 client): where it is, its text."""
    files = _s3_objects(location, client) if location.startswith("s3://") else _local_files(Path(location))
    for where, raw in files:
        try:
            yield where, _text(raw)
        except (OSError, EOFError, UnicodeDecodeError):
            raise CaptureError(f"{where}: neither gzip nor UTF-8 text") from None


def read_capture(location: str, client: Any = None) -> list[list[float]]:
    """The rows of every captured request in a folder, or under s3://bucket/prefix (client: an S3 client)."""
    rows: list[list[float]] = []
    for where, text in capture_files(location, client):
        rows.extend(rows_in_lines(text.splitlines(), where))
    if not rows:
        raise CaptureError(f"no captured rows in {location}")
    return rows
