"""The cap on columns per record: a record wider than it fails the job before any per-column
work, naming the limit, the count found and where the record is."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from monitor_helpers import (
    Runner,
    capture_record,
    classic_baseline,
    write_captures,
    write_csv,
)

from smlocal.model_monitor.errors import MAX_COLUMNS
from smlocal.model_monitor.job import run_analysis

HOUR = "2022/04/18/00"
JSON_LINES = json.dumps({"json": {"lines": True}})


def _limit(found: str, limit: int = 1000) -> str:
    return (
        f" has {found} columns; smlocal analyses at most {limit:,} columns per record (raise "
        "the limit with the smlocal_max_columns environment entry)."
    )


def _no_outputs(folder: Path) -> bool:
    return not folder.exists() or not any(folder.iterdir())


def test_the_default_limit_is_ten_thousand() -> None:
    assert MAX_COLUMNS == 10_000


def test_a_wide_csv_capture_fails_naming_the_record_and_its_file(
    tmp_path: Path, baseline: Runner, monitor: Runner
) -> None:
    classic_baseline(tmp_path, baseline)
    wide = ",".join(["1"] * 199_999)  # with the output value: 200,000 columns
    narrow = capture_record("1", "2")
    record = capture_record(wide, "0.5", eventId="e-wide")
    path = write_captures(tmp_path / "c", [narrow, record], HOUR)
    result = monitor(tmp_path / "c", smlocal_max_columns="1000")
    assert result.status == "Failed"
    assert result.message == f"Capture record e-wide ({path}:2)" + _limit("200,000")
    assert (tmp_path / "message").read_text() == result.message
    assert _no_outputs(tmp_path / "run")


def test_the_default_limit_applies_without_the_environment_entry(
    tmp_path: Path, baseline: Runner, monitor: Runner
) -> None:
    classic_baseline(tmp_path, baseline)
    record = capture_record(",".join(["1"] * MAX_COLUMNS), "0.5", eventId="e-1")
    path = write_captures(tmp_path / "c", [record], HOUR)
    result = monitor(tmp_path / "c")
    assert result.message == f"Capture record e-1 ({path}:1)" + _limit("10,001", MAX_COLUMNS)


def test_a_record_at_the_limit_is_analysed(
    tmp_path: Path, baseline: Runner, monitor: Runner
) -> None:
    classic_baseline(tmp_path, baseline)
    write_captures(tmp_path / "c", [capture_record("1,2,3", "0.5")] * 3, HOUR)
    assert monitor(tmp_path / "c", smlocal_max_columns="4").status == "CompletedWithViolations"


def test_multi_line_and_json_captures_are_capped(
    tmp_path: Path, baseline: Runner, monitor: Runner
) -> None:
    classic_baseline(tmp_path, baseline)
    lines = capture_record("1,2\n" + ",".join(["3"] * 50) + "\n", "1\n2\n", eventId="e-lines")
    path = write_captures(tmp_path / "lines", [lines], HOUR)
    result = monitor(tmp_path / "lines", smlocal_max_columns="20")
    assert result.message == f"Capture record e-lines ({path}:1) endpointInput" + _limit("50", 20)

    payload = json.dumps({f"f{i}": i for i in range(200_000)})
    record = capture_record(payload, "[1]", encoding="JSON", eventId="e-json")
    path = write_captures(tmp_path / "json", [record], HOUR)
    result = monitor(tmp_path / "json", smlocal_max_columns="1000")
    assert result.message == (
        f"Capture record e-json ({path}:1) endpointInput" + _limit("more than 1,000")
    )


def test_an_output_line_answering_a_batch_is_not_a_wide_record(
    tmp_path: Path, baseline: Runner, monitor: Runner
) -> None:
    classic_baseline(tmp_path, baseline)
    # XGBoost's answer to a batch of 6 rows: one line of 6 values, paired value by value
    record = capture_record("1\n2\n3\n4\n5\n6\n", "0,1,2,3,4,5")
    write_captures(tmp_path / "c", [record], HOUR)
    assert monitor(tmp_path / "c", smlocal_max_columns="3").status == "Completed"


def test_baseline_csv_files_are_capped_on_the_header_and_on_each_line(
    tmp_path: Path, baseline: Runner
) -> None:
    wide = [f"c{i}" for i in range(200_000)]
    path = write_csv(tmp_path / "wide-header.csv", [range(200_000)], wide)
    result = baseline(path, smlocal_max_columns="1000")
    assert result.message == f"{path}: line 1" + _limit("200,000")

    path = tmp_path / "wide-row.csv"
    path.write_text("a,b\n1,2\n" + ",".join(["7"] * 200_000) + "\n3,4\n", encoding="utf-8")
    result = baseline(path, smlocal_max_columns="1000")
    assert result.message == f"{path}: line 3" + _limit("200,000")
    assert _no_outputs(tmp_path / "baseline")


def test_quoted_commas_are_not_columns(tmp_path: Path, baseline: Runner) -> None:
    path = tmp_path / "quoted.csv"
    path.write_text('a,b\n"1,2,3,4,5",x\n', encoding="utf-8")
    assert baseline(path, smlocal_max_columns="2").status == "Completed"


def test_baseline_json_lines_are_capped(tmp_path: Path, baseline: Runner) -> None:
    path = tmp_path / "d.jsonl"
    lines = [{"a": 1}, {f"k{i}": i for i in range(200_000)}]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    result = baseline(path, JSON_LINES, smlocal_max_columns="1000")
    assert result.message == f"{path}: line 2" + _limit("more than 1,000")


def test_records_of_a_json_document_are_capped(tmp_path: Path, baseline: Runner) -> None:
    path = tmp_path / "d.json"
    path.write_text(json.dumps([{"a": 1}, {f"k{i}": i for i in range(1001)}]), encoding="utf-8")
    result = baseline(path, json.dumps({"json": {"lines": False}}), smlocal_max_columns="1000")
    assert result.message == f"{path}: record 2" + _limit("1,001")


def test_rows_a_preprocessor_returns_are_capped(
    tmp_path: Path, baseline: Runner, monitor: Runner
) -> None:
    classic_baseline(tmp_path, baseline)
    path = write_captures(tmp_path / "c", [capture_record("1", "2", eventId="e-pre")], HOUR)
    script = tmp_path / "pre.py"
    script.write_text(
        textwrap.dedent(
            """
            def preprocess_handler(record):
                return {f"c{i}": i for i in range(200_000)}
            """
        ),
        encoding="utf-8",
    )
    result = monitor(
        tmp_path / "c", record_preprocessor_script=str(script), smlocal_max_columns="1000"
    )
    assert result.message == (
        f"The row preprocess_handler returned for capture record e-pre ({path}:1)"
        + _limit("200,000")
    )


@pytest.mark.parametrize("value", ["0", "-3", "many", "1.5"])
def test_the_limit_must_be_a_positive_whole_number(tmp_path: Path, value: str) -> None:
    env = {
        "dataset_source": str(write_csv(tmp_path / "d.csv", [(1,)], ("a",))),
        "dataset_format": json.dumps({"csv": {"header": True}}),
        "output_path": str(tmp_path / "out"),
        "smlocal_max_columns": value,
    }
    result = run_analysis(env)
    assert (result.status, result.message) == (
        "Failed",
        f"smlocal_max_columns={value!r} is not a positive whole number",
    )
