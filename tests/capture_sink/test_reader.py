"""Reading captures back (folders and S3), the validator and `smlocal captures`."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from smlocal.capture_sink.reader import iter_records, read_dataframe
from smlocal.capture_sink.validate import check_lines, record_schema
from smlocal.emulator.cli import main

DATA = Path(__file__).parent / "data"
GOLDEN = sorted(DATA.glob("*.jsonl"))


def line(event: int, moment: str, data: str = "1,2", **meta) -> str:
    record = {
        "captureData": {
            "endpointInput": {
                "observedContentType": "text/csv",
                "mode": "INPUT",
                "data": data,
                "encoding": "CSV",
            }
        },
        "eventMetadata": {"eventId": f"00000000-0000-4000-8000-{event:012d}", **meta,
                          "inferenceTime": moment},
        "eventVersion": "0",
    }  # fmt: skip
    return json.dumps(record, separators=(",", ":")) + "\n"


def write(root: Path, hour: str, name: str, lines: list[str]) -> Path:
    folder = root / "Ep" / "AllTraffic" / hour
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("".join(lines))
    return path


@pytest.fixture
def captures(tmp_path: Path) -> Path:
    root = tmp_path / "capture"
    # two workers' files in the same hour, out of order with each other
    write(root, "2024/01/19/19", "10-00-000-a.jsonl", [
        line(1, "2024-01-19T19:10:00Z"), line(3, "2024-01-19T19:30:00Z")])  # fmt: skip
    write(root, "2024/01/19/19", "20-00-000-b.jsonl", [
        line(2, "2024-01-19T19:20:00Z"), line(4, "2024-01-19T19:40:00Z")])  # fmt: skip
    write(root, "2024/01/19/20", "00-00-000-c.jsonl", [line(5, "2024-01-19T20:00:00Z")])
    write(root, "2024/01/20/03", "00-00-000-d.jsonl", [line(6, "2024-01-20T03:00:00Z")])
    write(root, "2023/12/31/23", "59-00-000-e.jsonl", [line(0, "2023-12-31T23:59:00Z")])
    return root


def ids(records) -> list[int]:
    return [int(r["eventMetadata"]["eventId"][-12:]) for r in records]


def test_records_come_in_time_order(captures):
    assert ids(iter_records(captures)) == [0, 1, 2, 3, 4, 5, 6]


def test_file_order_streams_file_by_file(captures):
    assert ids(iter_records(captures, file_order=True)) == [0, 1, 3, 2, 4, 5, 6]
    start = datetime(2024, 1, 19, 19, 20, tzinfo=UTC)
    assert ids(iter_records(captures, start, file_order=True)) == [3, 2, 4, 5, 6]


def test_a_window_is_start_inclusive_end_exclusive(captures):
    start = datetime(2024, 1, 19, 19, 20, tzinfo=UTC)
    end = datetime(2024, 1, 19, 20, 0)  # naive is UTC
    assert ids(iter_records(captures, start, end)) == [2, 3, 4]
    assert ids(iter_records(captures / "Ep" / "AllTraffic" / "2024", start)) == [2, 3, 4, 5, 6]


def test_only_hour_folders_that_can_hold_the_window_are_read(captures, monkeypatch):
    read: list[str] = []
    original = Path.read_bytes

    def spy(self: Path) -> bytes:
        read.append(self.name)
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", spy)
    start = datetime(2024, 1, 20, 3, 0, tzinfo=UTC)
    assert ids(iter_records(captures, start)) == [6]
    assert read == ["00-00-000-d.jsonl"]


def test_base64_is_decoded_on_request(tmp_path):
    encoded = json.loads(line(1, "2024-01-19T19:10:00Z"))
    encoded["captureData"]["endpointInput"].update(data="aGVsbG8=", encoding="BASE64")
    write(tmp_path, "2024/01/19/19", "f.jsonl", [json.dumps(encoded) + "\n"])
    [raw] = iter_records(tmp_path)
    [decoded] = iter_records(tmp_path, decode_base64=True)
    assert raw["captureData"]["endpointInput"]["data"] == "aGVsbG8="
    assert decoded["captureData"]["endpointInput"]["data"] == "hello"


def test_a_flat_dataframe(captures):
    frame = read_dataframe(captures)
    assert len(frame) == 7
    assert "captureData.endpointInput.data" in frame.columns
    assert "eventMetadata.inferenceTime" in frame.columns
    assert frame["captureData.endpointInput.data"].tolist() == ["1,2"] * 7


def test_golden_files_from_aws_and_the_sdk_are_valid():
    for path in GOLDEN:
        assert list(check_lines(path.read_bytes(), path.name)) == [], path.name


def test_the_schema_is_package_data():
    assert record_schema()["required"] == ["captureData", "eventMetadata", "eventVersion"]


def test_each_malformed_line_is_reported_with_file_line_and_field():
    good = (DATA / "aws-xgboost-csv.jsonl").read_text().splitlines()[0]
    doc = json.loads(good)
    doc["captureData"]["endpointOutput"]["encoding"] = "XML"
    del doc["eventMetadata"]["eventId"]
    lines = [good, "{not json", json.dumps(doc), "", good]
    problems = [str(p) for p in check_lines("\n".join(lines).encode(), "f.jsonl")]
    assert problems == [
        "f.jsonl:5: the last line does not end with a newline",
        "f.jsonl:2: not JSON (Expecting property name enclosed in double quotes, column 2)",
        "f.jsonl:3: captureData.endpointOutput.encoding: "
        "'XML' is not one of ['CSV', 'JSON', 'BASE64']",
        "f.jsonl:3: eventMetadata.eventId: is missing",
        "f.jsonl:4: an empty line",
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["eventMetadata"].update(inferenceTime="2022-04-18 00:21:48"),
         "eventMetadata.inferenceTime"),
        (lambda d: d["eventMetadata"].update(inferenceTime="2022-02-30T00:21:48Z"),
         "eventMetadata.inferenceTime"),
        (lambda d: d.update(eventVersion="1"), "eventVersion"),
        (lambda d: d["captureData"]["endpointInput"].update(mode="OUTPUT"),
         "captureData.endpointInput.mode"),
        (lambda d: d["captureData"]["endpointInput"].update(encoding="BASE64"),
         "captureData.endpointInput.data"),
        (lambda d: d["eventMetadata"].update(customAttributes="a=b"),
         "eventMetadata.customAttributes"),
        (lambda d: d.update(captureData={}), "captureData"),
    ],
)  # fmt: skip
def test_contract_breaches(change, field):
    doc = json.loads((DATA / "aws-xgboost-csv.jsonl").read_text().splitlines()[0])
    change(doc)
    problems = list(check_lines((json.dumps(doc) + "\n").encode(), "x"))
    assert [p.field for p in problems] == [field]


def test_cli_validate(tmp_path, capsys):
    for path in GOLDEN:
        shutil.copy(path, tmp_path / path.name)
    assert main(["captures", "validate", str(tmp_path)]) == 0
    assert "4 file(s) checked: valid" in capsys.readouterr().err
    (tmp_path / "bad.jsonl").write_text('{"eventVersion":"0"}\n')
    assert main(["captures", "validate", str(tmp_path)]) == 1
    out = capsys.readouterr()
    assert f"{tmp_path / 'bad.jsonl'}:1: captureData: is missing" in out.out
    assert "5 file(s) checked: 2 problem(s)" in out.err


def test_cli_ls_show_export(captures, tmp_path, capsys):
    assert main(["captures", "ls", str(captures), "--start", "2024-01-20T00:00:00Z"]) == 0
    assert capsys.readouterr().out.strip().endswith("00-00-000-d.jsonl")
    assert main(["captures", "show", str(captures), "--limit", "2"]) == 0
    shown = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert ids(shown) == [0, 1]
    out = tmp_path / "c.parquet"
    assert main(["captures", "export", str(captures), "-o", str(out)]) == 0
    import pandas as pd

    assert len(pd.read_parquet(out)) == 7
    csv = tmp_path / "c.csv"
    assert main(["captures", "export", str(captures), "-o", str(csv), "--end", "2024-01-01"]) == 0
    assert pd.read_csv(csv)["eventMetadata.inferenceTime"].tolist() == ["2023-12-31T23:59:00Z"]


def test_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["captures", "ls", str(tmp_path / "missing")]) == 2
    assert "no capture file or folder" in capsys.readouterr().err


def test_s3_listing_visits_only_the_hours_of_the_window(s3, bucket):
    for hour, n in (("2024/01/19/18", 1), ("2024/01/19/19", 2), ("2024/01/20/03", 3)):
        for part in range(3):  # several files per hour, listed over pages of 2 keys
            key = f"dc/Ep/AllTraffic/{hour}/0{part}-00-000-x.jsonl"
            moment = f"{hour[:10].replace('/', '-')}T{hour[11:]}:0{part}:00Z"
            s3.put_object(Bucket=bucket, Key=key, Body=line(n * 10 + part, moment).encode())
    listed: list[str] = []

    def spy(params, **_kwargs):
        listed.append(params["Prefix"])
        params["MaxKeys"] = 2

    s3.meta.events.register("provide-client-params.s3.ListObjectsV2", spy)
    start = datetime(2024, 1, 20, 3, 0, tzinfo=UTC)
    found = list(iter_records(f"s3://{bucket}/dc", start, s3_client=s3))
    assert ids(found) == [30, 31, 32]
    assert listed == [
        "dc/",
        "dc/Ep/",
        "dc/Ep/AllTraffic/",
        "dc/Ep/AllTraffic/2024/",
        "dc/Ep/AllTraffic/2024/01/",
        "dc/Ep/AllTraffic/2024/01/20/",  # not 2024/01/19: no record of the window is there
        "dc/Ep/AllTraffic/2024/01/20/03/",
        "dc/Ep/AllTraffic/2024/01/20/03/",  # two pages of keys
    ]


def test_a_broken_line_is_named_when_reading(tmp_path):
    write(tmp_path, "2024/01/19/19", "f.jsonl", [line(1, "2024-01-19T19:10:00Z"), "{oops\n"])
    with pytest.raises(ValueError, match=r"f\.jsonl:2: not a capture record"):
        list(iter_records(tmp_path))
