"""Ground truth files with junk in them: the execution fails with a reason that names the
record, never with a bare decoder message and a traceback."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from tests.model_monitor.test_model_quality_job import HOUR, capture, execution, write


def junk_label(data: str, encoding: str) -> str:
    record = {"groundTruthData": {"data": data, "encoding": encoding},
              "eventMetadata": {"eventId": "1"}, "eventVersion": "0"}  # fmt: skip
    return json.dumps(record) + "\n"


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        ([junk_label("!!!not-base64", "BASE64")], "Merged record 1 groundTruthData: data is not"),
        ([junk_label("//79", "BASE64")], "Merged record 1 groundTruthData: data is not"),
        (["{not json\n"], "Ground truth record (1500.jsonl:1) is not JSON"),
        (["[1, 2]\n"], "Ground truth record (1500.jsonl:1) has no eventMetadata.eventId"),
    ],
)
def test_junk_ground_truth_fails_naming_the_record(
    tmp_path: Path, lines: list[str], reason: str
) -> None:
    folder = tmp_path / "captures" / "ep" / "AllTraffic" / f"{HOUR:%Y/%m/%d/%H}"
    write(folder / "00-00-000-a.jsonl", [capture(HOUR + timedelta(minutes=1), 1, 0.9)])
    write(tmp_path / "groundtruth" / f"{HOUR:%Y/%m/%d/%H}" / "1500.jsonl", lines)
    result, logs = execution(tmp_path)
    assert result.status == "Failed"
    assert result.message.startswith(reason), result.message
    assert not any("Traceback" in line for line in logs)


def test_a_ground_truth_file_that_is_not_utf8_fails_naming_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "captures" / "ep" / "AllTraffic" / f"{HOUR:%Y/%m/%d/%H}"
    write(folder / "00-00-000-a.jsonl", [capture(HOUR + timedelta(minutes=1), 1, 0.9)])
    labels = tmp_path / "groundtruth" / f"{HOUR:%Y/%m/%d/%H}"
    labels.mkdir(parents=True)
    (labels / "1500.jsonl").write_bytes(b"\xff\xfe junk\n")
    result, logs = execution(tmp_path)
    assert result.status == "Failed"
    assert "1500.jsonl" in result.message, result.message
    assert not any("Traceback" in line for line in logs)
