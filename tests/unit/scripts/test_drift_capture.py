"""Reading captured requests for the drift report: the records the service writes, from a folder (plain or
gzipped, as Firehose delivers them) or from S3 (moto), and files that hold something else refused by line."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kyber.monitoring import capture_record
from scripts.drift.capture import CaptureError, read_capture
from scripts.harness.events import json_event
from tests.support.service import TEST_ENVIRONMENT

ROWS: list[list[float]] = [[5.1, 3.5, 1.4, 0.2], [6.2, 2.9, 4.3, 1.3], [7, 3, 6, 2]]


def record_line(rows: list[list[float]], *, base64_body: bool = False, route: str = "sklearn") -> str:
    """The line the service writes for a captured request carrying rows."""
    event = json_event(
        route, {"model": "pytorch", "crystalData": rows} if route == "astromech" else {"crystalData": rows}
    )
    if base64_body:
        event["body"] = base64.b64encode(event["body"].encode()).decode()
        event["isBase64Encoded"] = True
    return capture_record(event, '{"prediction": []}', datetime.now(UTC)).decode()


def test_a_folder_of_plain_and_gzipped_files_gives_every_requests_rows_in_order(tmp_path: Path):
    # Given Firehose's gzipped files in dated folders, and a plain one
    (tmp_path / "capture" / "2026" / "11").mkdir(parents=True)
    first = "\n".join([record_line(ROWS[:2]), record_line(ROWS[2:], route="astromech")]) + "\n"
    (tmp_path / "capture" / "2026" / "11" / "a.gz").write_bytes(gzip.compress(first.encode()))
    (tmp_path / "capture" / "2026" / "11" / "b.jsonl").write_text(record_line([ROWS[0]], base64_body=True) + "\n\n")
    # When the folder is read
    rows = read_capture(str(tmp_path / "capture"))
    # Then every row of every request comes back, as floats
    assert rows == [*ROWS, ROWS[0]]
    assert all(isinstance(value, float) for row in rows for value in row)


def test_captured_inference_requests_give_their_tensors_rows(invoke, capfd, monkeypatch, tmp_path: Path):
    from scripts.harness.events import protocol_event
    from tests.support.service import configure_service

    # Given the records the service writes for inference requests, with flat and nested tensors
    configure_service(monkeypatch, KYBER_DATA_CAPTURE_PERCENT="100")
    capfd.readouterr()
    for data in ([value for row in ROWS for value in row], ROWS):
        tensor = {"name": "crystal_data", "shape": [len(ROWS), 4], "datatype": "FP64", "data": data}
        body = json.dumps({"inputs": [tensor]})
        event = protocol_event(
            "sklearn", "POST", "/v2/models/sklearn/infer", body, **{"Content-Type": "application/json"}
        )
        assert invoke("sklearn", event).status == 200
    lines = [line for line in capfd.readouterr().out.splitlines() if '"captureData"' in line]
    (tmp_path / "part.jsonl").write_text("\n".join(lines) + "\n")
    # When they are read, then each request's rows come back
    assert read_capture(str(tmp_path)) == [*ROWS, *ROWS]


def test_captures_under_an_s3_prefix_are_read_from_every_object(s3):
    s3.create_bucket(Bucket="kyber-capture", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(
        Bucket="kyber-capture", Key="capture/2026/11/30/12/one.gz", Body=gzip.compress(record_line(ROWS).encode())
    )
    s3.put_object(
        Bucket="kyber-capture", Key="capture/2026/11/30/13/two.gz", Body=gzip.compress(record_line(ROWS[:1]).encode())
    )
    s3.put_object(Bucket="kyber-capture", Key="delivery-errors/x", Body=b"not a record")
    assert TEST_ENVIRONMENT["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert read_capture("s3://kyber-capture/capture/", client=s3) == [*ROWS, ROWS[0]]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "line 2: not JSON"),
        (json.dumps({"eventVersion": "0"}), "line 2: not a data-capture record"),
        (
            json.dumps({"captureData": {"endpointInput": {"data": "{}", "encoding": "CSV"}}}),
            "line 2: its input's encoding is 'CSV'",
        ),
        (
            json.dumps({"captureData": {"endpointInput": {"data": '{"crystalData": [[1, 2]]}', "encoding": "JSON"}}}),
            "line 2: its input's rows are not rows of 4 numbers",
        ),
    ],
)
def test_a_line_that_is_not_a_record_of_a_request_is_named(tmp_path: Path, line: str, reason: str):
    (tmp_path / "part.jsonl").write_text(record_line(ROWS) + "\n" + line + "\n")
    with pytest.raises(CaptureError, match=f"part.jsonl {reason}"):
        read_capture(str(tmp_path))


def test_a_folder_without_records_is_refused(tmp_path: Path):
    with pytest.raises(CaptureError, match="no captured rows"):
        read_capture(str(tmp_path))
    with pytest.raises(CaptureError, match="is not a folder"):
        read_capture(str(tmp_path / "missing"))
