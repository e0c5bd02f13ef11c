"""The job entry: statuses, failure reasons, atomic outputs, metrics and log lines."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from monitor_helpers import (
    CAPTURE,
    Runner,
    capture_record,
    classic_baseline,
    classic_captures,
    edit_json,
    write_captures,
    write_csv,
)

from smlocal.model_monitor.job import run_analysis


def _outputs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture
def classic(tmp_path: Path, baseline: Runner) -> Path:
    classic_baseline(tmp_path, baseline)
    return tmp_path / "baseline"


def test_empty_window_has_no_data(tmp_path: Path, classic: Path, monitor: Runner) -> None:
    captures = classic_captures(tmp_path / "c")  # all at 2022-04-18T00:21:48Z
    result = monitor(captures, start_time="2022-04-18T01:00:00Z", end_time="2022-04-18T02:00:00Z")
    assert (result.status, result.message) == ("Failed", "Job inputs had no data")
    assert (tmp_path / "message").read_text() == "Job inputs had no data"
    assert _outputs(tmp_path / "run") == []


def test_window_uses_the_docs_time_format(tmp_path: Path, classic: Path, monitor: Runner) -> None:
    captures = classic_captures(tmp_path / "c")
    result = monitor(captures, start_time="2022-04-18T00: 00: 00Z", end_time="2022-04-18T01:00:00Z")
    assert result.status == "CompletedWithViolations"


def test_missing_baseline_file(tmp_path: Path, classic: Path, monitor: Runner) -> None:
    result = monitor(classic_captures(tmp_path / "c"), statistics=tmp_path / "nope.json")
    assert result.status == "Failed"
    assert result.message == f"Baseline statistics file {tmp_path / 'nope.json'} does not exist"
    assert _outputs(tmp_path / "run") == []


def test_malformed_constraints(tmp_path: Path, classic: Path, monitor: Runner) -> None:
    (classic / "constraints.json").write_text('{"features": [', encoding="utf-8")
    result = monitor(classic_captures(tmp_path / "c"))
    assert result.status == "Failed"
    assert result.message.startswith(
        f"Baseline constraints file {classic / 'constraints.json'} is not valid JSON: "
    )
    assert _outputs(tmp_path / "run") == []


def test_failure_keeps_earlier_outputs_untouched(
    tmp_path: Path, classic: Path, monitor: Runner
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "statistics.json").write_text("earlier", encoding="utf-8")
    edit_json(classic / "constraints.json", lambda body: body.update(features="oops"))
    assert monitor(classic_captures(tmp_path / "c")).status == "Failed"
    assert _outputs(run) == ["statistics.json"]
    assert (run / "statistics.json").read_text() == "earlier"


def test_missing_required_key_fails_like_the_container(tmp_path: Path) -> None:
    result = run_analysis({"dataset_source": str(tmp_path), "dataset_format": CAPTURE})
    assert (result.status, result.message) == ("Failed", "'output_path'")


@pytest.mark.parametrize(
    ("dataset_format", "message"),
    [
        ("{}", "Dataset format is missing"),
        (
            '{"csv": {"output_columns_position": "MIDDLE"}}',
            "Invalid value for output_columns_position",
        ),
        ('{"parquet": {}}', "Dataset format parquet is not supported by smlocal's analyzer"),
    ],
)
def test_bad_dataset_formats(tmp_path: Path, dataset_format: str, message: str) -> None:
    env = {
        "dataset_source": str(tmp_path),
        "dataset_format": dataset_format,
        "output_path": str(tmp_path / "out"),
    }
    assert run_analysis(env).message == message


def test_baseline_of_a_header_only_file_has_no_data(tmp_path: Path, baseline: Runner) -> None:
    result = baseline(write_csv(tmp_path / "empty.csv", [], ("a", "b")))
    assert result.message == "Job inputs had no data"


def test_csv_header_defaults_to_false_like_the_container(tmp_path: Path, baseline: Runner) -> None:
    path = write_csv(tmp_path / "d.csv", [(1, 2)], ("a", "b"))
    baseline(path, json.dumps({"csv": {}}))
    statistics = json.loads((tmp_path / "baseline" / "statistics.json").read_text())
    assert [f["name"] for f in statistics["features"]] == ["_c0", "_c1"]
    assert statistics["features"][0]["inferred_type"] == "String"  # the header is a row


def test_metrics_are_records_when_enabled(tmp_path: Path, classic: Path, monitor: Runner) -> None:
    # a takes 132 distinct values, enough for its drift to be compared (b: see classic_captures)
    values = ["3", "3.50", "4", "4.25", "5", "0.50"] * 22
    records = [capture_record(b, str(i)) for i, b in enumerate(values)]
    captures = tmp_path / "c"
    write_captures(captures, records, "2022/04/18/00")
    env = {
        "publish_cloudwatch_metrics": "Enabled",
        "sagemaker_endpoint_name": "ep",
        "sagemaker_monitoring_schedule_name": "hourly",
        "end_time": "2022-04-18T01:00:00Z",
    }
    result = monitor(captures, **env)
    names = [m.metric_name for m in result.metrics]
    assert names[:3] == ["feature_data_a", "feature_non_null_a", "feature_baseline_drift_a"]
    assert "feature_data_b" in names  # b is Fractional now: still numeric, but no drift
    assert "feature_baseline_drift_b" not in names
    first = result.metrics[0].document()
    assert first["Timestamp"] == "2022-04-18T01:00:00Z"
    assert first["Dimensions"] == [
        {"Name": "Endpoint", "Value": "ep"},
        {"Name": "MonitoringSchedule", "Value": "hourly"},
    ]
    assert set(first["StatisticValues"]) == {"SampleCount", "Sum", "Minimum", "Maximum"}
    edit_json(
        classic / "constraints.json",
        lambda b: b["monitoring_config"].update(emit_metrics="Disabled"),
    )
    assert monitor(captures, **env).metrics == ()
    assert monitor(captures).metrics == ()  # publish_cloudwatch_metrics absent: Disabled


def test_log_lines_and_files(
    tmp_path: Path, classic: Path, monitor: Runner, logs: list[str]
) -> None:
    logs.clear()
    result = monitor(classic_captures(tmp_path / "c"))
    assert "DefaultDataAnalyzer - INFO - Performing analysis with input: {" in logs[0]
    # the Spark analyzer's lines as the real log prints them: `... INFO  Class:line - message`
    spark = [line for line in logs if re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO  ", line)]
    messages = [line.split("  ", 1)[1] for line in spark]
    assert "DataAnalyzer:79 - Using baseline columns: a, b" in messages
    assert "Main:53 - CompletedWithViolations: Job completed successfully with 1 violations." in (
        messages
    )
    at = messages.index("ConstraintGenerator:61 - Evaluating constraints")
    assert messages[at + 1].startswith("DistanceGenerator:63 - Inferred data type don't match")
    assert messages[at + 2] == "StatsGenerator:86 - Evaluating stats"
    assert messages[at + 3] == (  # pretty-printed, as the real log prints the violations
        "DataAnalyzer:148 - Constraint and Stats violations: "
        + (tmp_path / "run" / "constraint_violations.json").read_text(encoding="utf-8")
    )
    assert messages[-1] == f"Main:141 - Write to file {tmp_path / 'message'}."
    assert [p.name for p in result.files] == [
        "constraints.json",
        "statistics.json",
        "constraint_violations.json",
    ]
    assert _outputs(tmp_path / "run") == sorted(p.name for p in result.files)  # no staging left


def test_monitoring_writes_suggested_constraints_of_current_data(
    tmp_path: Path, classic: Path, monitor: Runner
) -> None:
    records = [capture_record(str(i), "1") for i in range(9)] + [capture_record("", "1")]
    write_captures(tmp_path / "c", records, "2022/04/18/00")
    monitor(tmp_path / "c")
    suggested = json.loads((tmp_path / "run" / "constraints.json").read_text())
    assert suggested["features"][1]["completeness"] == 0.9


def test_folder_of_csv_files_drops_each_header(tmp_path: Path, baseline: Runner) -> None:
    folder = tmp_path / "data"
    folder.mkdir()
    for i in range(3):
        write_csv(folder / f"part-{i}.csv", [(i, i * 2)] * 4, ("a", "b"))
    assert baseline(folder).status == "Completed"
    statistics = json.loads((tmp_path / "baseline" / "statistics.json").read_text())
    assert statistics["dataset"]["item_count"] == 12
    assert statistics["features"][0]["inferred_type"] == "Integral"
