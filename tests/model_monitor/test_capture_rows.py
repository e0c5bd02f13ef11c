"""Capture records into rows, capture files for a window, and dataset files into columns."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from monitor_helpers import Runner, capture_record, classic_baseline, write_captures, write_csv

from smlocal.model_monitor import files
from smlocal.model_monitor.errors import AnalysisError
from smlocal.model_monitor.readers import capture_rows, iter_capture_records, record_rows


def test_csv_capture_is_output_then_input() -> None:
    record = capture_record("1,,3\n", "0.5\n")
    assert list(capture_rows([record])) == [["0.5", "1", None, "3"]]


def test_multi_line_csv_payload_gives_one_row_per_line() -> None:
    record = capture_record("1,2\n3,4\n", "0.1\n0.2\n")
    assert record_rows(record) == [["0.1", "1", "2"], ["0.2", "3", "4"]]


def test_one_output_line_for_a_batch_is_paired_value_by_value() -> None:
    record = capture_record("1,2\n3,4", "0.1,0.2")  # XGBoost's answer to a two-row batch
    assert record_rows(record) == [["0.1", "1", "2"], ["0.2", "3", "4"]]


def test_unpairable_line_counts_fail_naming_the_event() -> None:
    record = capture_record("1\n2\n3", "0.1\n0.2", eventId="e-1")
    with pytest.raises(AnalysisError, match="Capture record e-1: endpointOutput has 2 lines"):
        record_rows(record)


def test_json_capture_flat_objects_by_sorted_key() -> None:
    record = capture_record(
        json.dumps({"b": 2, "a": 1.0, "c": "x"}), json.dumps([0.25]), encoding="JSON"
    )
    assert record_rows(record) == [["0.25", "1.0", "2", "x"]]


def test_json_capture_must_be_flat() -> None:
    record = capture_record(json.dumps({"instances": [[1, 2]]}), "1", encoding="JSON")
    with pytest.raises(AnalysisError, match="is not flat"):
        record_rows(record)


def test_encoding_mismatch_has_the_real_message() -> None:
    record = capture_record("1,2", json.dumps({"p": 1}), output_encoding="JSON")
    with pytest.raises(AnalysisError) as caught:
        record_rows(record)
    assert str(caught.value) == (
        "Encoding mismatch: Encoding is CSV for endpointInput, but Encoding is JSON for "
        "endpointOutput. We currently only support the same type of input and output "
        "encoding at the moment."
    )


def test_base64_needs_a_preprocessor() -> None:
    payload = base64.b64encode(b"\x89PNG").decode()
    record = capture_record(payload, payload, encoding="BASE64")
    with pytest.raises(AnalysisError, match="only CSV and JSON captures can be analysed"):
        record_rows(record)


def test_shadow_traffic_and_unselected_sides_are_left_out() -> None:
    shadow = capture_record("1", "2", invocationSource="ShadowExperiment")
    assert record_rows(shadow) == []
    assert record_rows(capture_record("1,2", "0.5"), ["endpointInput"]) == [["1", "2"]]


def test_capture_files_are_read_for_the_window_by_inference_time(tmp_path: Path) -> None:
    write_captures(
        tmp_path, [capture_record("1", "a", when="2022-04-18T00:59:59Z")], "2022/04/18/00"
    )
    write_captures(
        tmp_path, [capture_record("2", "b", when="2022-04-18T01:00:00Z")], "2022/04/18/01"
    )
    write_captures(
        tmp_path, [capture_record("3", "c", when="2022-04-17T10:00:00Z")], "2022/04/17/10"
    )
    start, end = datetime(2022, 4, 18, tzinfo=UTC), datetime(2022, 4, 18, 1, tzinfo=UTC)
    rows = list(capture_rows(iter_capture_records(tmp_path, start, end)))
    assert rows == [["a", "1"]]
    assert len(list(iter_capture_records(tmp_path, None, None))) == 3


def test_csv_without_header_names_columns_by_position(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", [(1, "x"), (2, "y")])
    assert files.csv_names([path], header=False) == ["_c0", "_c1"]
    table = files.read_csv(
        files.FileRange(str(path), 0, path.stat().st_size), ["_c0", "_c1"], False
    )
    assert table.column("_c1").to_pylist() == ["x", "y"]


def test_duplicate_and_empty_header_names_follow_spark(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", [(1, 2, 3, 4)], ("a", "A", "", "b"))
    assert files.csv_names([path], header=True) == ["a0", "A1", "_c2", "b"]


def test_ragged_rows_are_padded_and_cut(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a,b\n1\n2,3,4\n\n5,6\n", encoding="utf-8")
    part = files.FileRange(str(path), 0, path.stat().st_size)
    table = files.read_csv(part, ["a", "b"], header=True)
    assert table.to_pydict() == {"a": ["1", "2", "5"], "b": [None, "3", "6"]}


def test_ranges_hold_whole_lines(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", [(i, "x" * (i % 13)) for i in range(500)], ("n", "s"))
    ranges = files.plan_ranges([path], 1000)
    assert len(ranges) > 3
    data = b"".join(files.read_bytes(r) for r in ranges)
    assert data == path.read_bytes()
    assert all(files.read_bytes(r).endswith(b"\n") for r in ranges)


def test_small_files_share_a_partition(tmp_path: Path) -> None:
    paths = [write_csv(tmp_path / f"{i}.csv", [(i,)], ("x",)) for i in range(5)]
    ranges = files.plan_ranges(paths, 1000)
    assert [len(group) for group in files.pack(ranges, 1000)] == [5]
    assert [len(group) for group in files.pack(ranges, 5)] == [1, 1, 1, 1, 1]  # 4 bytes each


WRONG_TYPES = {
    "captureData.endpointInput.data": (5, "a string, not a number (5)"),
    "captureData.endpointOutput.encoding": (7, "a string, not a number (7)"),
    "captureData.endpointInput.observedContentType": ([], "a string, not an array"),
    "captureData.endpointInput.mode": (True, "a string, not a boolean (true)"),
    "captureData.endpointOutput": ("CSV", 'an object, not a string ("CSV")'),
    "captureData": ([1], "an object, not an array"),
    "eventMetadata": ("x", 'an object, not a string ("x")'),
    "eventMetadata.eventId": ({"a": 1}, "a string, not an object"),
    "eventMetadata.inferenceId": (12, "a string, not a number (12)"),
}


@pytest.mark.parametrize("path", list(WRONG_TYPES))
def test_wrong_typed_capture_fields_fail_naming_field_type_and_line(
    tmp_path: Path, path: str
) -> None:
    value, expected = WRONG_TYPES[path]
    bad = capture_record("3", "4")
    *parents, name = path.split(".")
    target = bad
    for parent in parents:
        target = target[parent]
    target[name] = value
    file = write_captures(tmp_path, [capture_record("1", "2"), bad], "2022/04/18/00")
    with pytest.raises(AnalysisError) as caught:
        list(capture_rows(iter_capture_records(tmp_path, None, None)))
    assert str(caught.value) == f"Capture record {file}:2: {path} must be {expected}."


def test_a_wrong_typed_capture_field_fails_the_job(
    tmp_path: Path, baseline: Runner, monitor: Runner
) -> None:
    classic_baseline(tmp_path, baseline)
    record = capture_record("1", "2")
    record["captureData"]["endpointInput"]["data"] = 5
    file = write_captures(tmp_path / "c", [record], "2022/04/18/00")
    result = monitor(tmp_path / "c")
    assert (result.status, result.message) == (
        "Failed",
        f"Capture record {file}:1: captureData.endpointInput.data must be a string, not a number (5).",
    )
