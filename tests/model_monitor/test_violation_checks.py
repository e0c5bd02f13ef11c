"""Every check of a monitoring run, with the real analyzer's description texts."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from monitor_helpers import (
    CHURN,
    CHURN_TRAFFIC,
    CSV_WITH_HEADER,
    Runner,
    capture_record,
    classic_baseline,
    classic_captures,
    violations,
    write_captures,
    write_csv,
)

from smlocal.model_monitor.jackson import java_double

HOUR = "2022/04/18/00"


def test_classic_half_fractional_column_is_a_data_type_violation(
    tmp_path: Path, baseline: Runner, monitor: Runner, logs: list[str]
) -> None:
    classic_baseline(tmp_path, baseline)
    result = monitor(classic_captures(tmp_path / "captures"))
    assert result.status == "CompletedWithViolations"
    assert (
        result.message == "CompletedWithViolations: Job completed successfully with 1 violations."
    )
    assert violations(tmp_path / "run") == [
        {
            "feature_name": "b",
            "constraint_check_type": "data_type_check",
            "description": "Data type match requirement is not met. Expected data type: "
            "Integral, Expected match: 100.0%. Observed: Only 50.0% of data is Integral.",
        }
    ]
    # b is Fractional now, so its drift is not compared (and the log says why)
    assert any(
        "Inferred data type don't match for column b. Inferred data type in baseline "
        "statistics: Integral. Inferred data type in current dataset: Fractional" in line
        for line in logs
    )


def test_sparse_column_reproduces_the_real_texts(
    tmp_path: Path, baseline: Runner, monitor: Runner
) -> None:
    write_csv(tmp_path / "train.csv", [(i, i % 5) for i in range(100)], ("count", "flow"))
    baseline(tmp_path / "train.csv")
    # 1009 rows: `count` holds 9 integers and 1000 decimals, `flow` only 9 values
    rows = [(str(i), str(i)) for i in range(9)] + [(f"{i}.3", "") for i in range(1000)]
    write_csv(tmp_path / "now.csv", rows, ("count", "flow"))
    monitor(tmp_path / "now.csv", CSV_WITH_HEADER)
    found = {
        (v["feature_name"], v["constraint_check_type"]): v for v in violations(tmp_path / "run")
    }
    assert found["count", "data_type_check"]["description"] == (
        "Data type match requirement is not met. Expected data type: Integral, Expected match: "
        "100.0%. Observed: Only 0.8919722497522299% of data is Integral."
    )
    assert found["flow", "completeness_check"]["description"] == (
        "Data completeness requirement is not met. Expected: 100.0%. "
        "Observed: Only 0.8919722497522299%."
    )


def _numeric_pair(tmp_path: Path, baseline: Runner, current: range) -> Path:
    write_csv(tmp_path / "train.csv", [(i,) for i in range(1000)], ("x",))
    baseline(tmp_path / "train.csv")
    return write_csv(tmp_path / "now.csv", [(i,) for i in current], ("x",))


@pytest.mark.parametrize(("method", "robust"), [("Robust", True), ("Simple", False)])
def test_numeric_drift_robust_and_simple(
    tmp_path: Path, baseline: Runner, monitor: Runner, method: str, robust: bool
) -> None:
    current = _numeric_pair(tmp_path, baseline, range(600, 1100))
    constraints = tmp_path / "baseline" / "constraints.json"
    body = json.loads(constraints.read_text(encoding="utf-8"))
    body["monitoring_config"]["distribution_constraints"]["comparison_method"] = method
    constraints.write_text(json.dumps(body), encoding="utf-8")
    result = monitor(current, CSV_WITH_HEADER)
    linf = 0.6  # 600 of the baseline's 1000 values lie below every current value
    expected = linf - 1.8 * math.sqrt(1500 / 500_000) if robust else linf
    assert violations(tmp_path / "run") == [
        {
            "feature_name": "x",
            "constraint_check_type": "baseline_drift_check",
            "description": f"Baseline drift distance: {java_double(expected)} exceeds threshold: "
            "0.1",
        }
    ]
    assert result.violation_count == 1


def test_no_drift_below_the_threshold(tmp_path: Path, baseline: Runner, monitor: Runner) -> None:
    current = _numeric_pair(tmp_path, baseline, range(0, 1000, 2))  # the same distribution
    result = monitor(current, CSV_WITH_HEADER)
    assert result.message == "Completed: Job completed successfully with no violations."
    assert violations(tmp_path / "run") == []
    text = (tmp_path / "run" / "constraint_violations.json").read_text(encoding="utf-8")
    assert text == '{\n  "violations" : [ ]\n}'


def _categories(tmp_path: Path, baseline: Runner, current: list[str]) -> Path:
    write_csv(tmp_path / "train.csv", [(c,) for c in ["x", "y"] * 50], ("color",))
    baseline(tmp_path / "train.csv")
    return write_csv(tmp_path / "now.csv", [(c,) for c in current], ("color",))


def test_categorical_values_and_linfinity_drift(
    tmp_path: Path, baseline: Runner, monitor: Runner
) -> None:
    current = _categories(tmp_path, baseline, ["x"] * 90 + ["y"] * 5 + ["z"] * 5)
    monitor(current, CSV_WITH_HEADER)
    linf = abs(50 / 100 - 5 / 100) - 1.8 * math.sqrt(200 / 10_000)
    assert violations(tmp_path / "run") == [
        {
            "feature_name": "color",
            "constraint_check_type": "categorical_values_check",
            "description": "Value: 0.95 does not meet the constraint requirement! ",
        },
        {
            "feature_name": "color",
            "constraint_check_type": "baseline_drift_check",
            "description": f"Baseline drift distance: {java_double(linf)} exceeds threshold: 0.1",
        },
    ]


def test_chi_squared_drift(tmp_path: Path, baseline: Runner, monitor: Runner) -> None:
    current = _categories(tmp_path, baseline, ["x"] * 90 + ["y"] * 10)
    constraints = tmp_path / "baseline" / "constraints.json"
    body = json.loads(constraints.read_text(encoding="utf-8"))
    body["monitoring_config"]["distribution_constraints"]["categorical_drift_method"] = "ChiSquared"
    constraints.write_text(json.dumps(body), encoding="utf-8")
    monitor(current, CSV_WITH_HEADER)
    [drift] = violations(tmp_path / "run")
    assert drift["constraint_check_type"] == "baseline_drift_check"
    assert drift["description"].startswith("Baseline drift chi-squared p-value: ")
    assert drift["description"].endswith(" is below threshold: 0.1")


def test_missing_and_extra_columns(tmp_path: Path, baseline: Runner, monitor: Runner) -> None:
    write_csv(tmp_path / "train.csv", [(1, 2, 3)] * 10, ("label", "f1", "f2"))
    baseline(tmp_path / "train.csv")
    write_captures(tmp_path / "short", [capture_record("2", "1")] * 10, HOUR)
    monitor(tmp_path / "short")
    [missing] = violations(tmp_path / "run")
    assert missing["feature_name"] == "f2"
    assert missing["constraint_check_type"] == "missing_column_check"
    write_captures(tmp_path / "long", [capture_record("2,3,4", "1")] * 10, HOUR)
    monitor(tmp_path / "long")
    [extra] = violations(tmp_path / "run")
    assert (extra["feature_name"], extra["constraint_check_type"]) == ("_c3", "extra_column_check")


def test_negative_values_are_no_violation(
    tmp_path: Path, baseline: Runner, monitor: Runner
) -> None:
    # is_non_negative is suggested but never checked: the real analyzer has no check for it
    # (the developer guide's six check types; the seed workshop's -1 traffic, in
    # test_recorded_executions). The current data's constraints say so, nothing else does.
    write_csv(tmp_path / "train.csv", [(i,) for i in range(10)], ("n",))
    baseline(tmp_path / "train.csv")
    write_csv(tmp_path / "now.csv", [(i - 1,) for i in range(10)], ("n",))
    result = monitor(tmp_path / "now.csv", CSV_WITH_HEADER)
    assert result.message == "Completed: Job completed successfully with no violations."
    assert violations(tmp_path / "run") == []
    suggested = json.loads((tmp_path / "run" / "constraints.json").read_text(encoding="utf-8"))
    assert suggested["features"][0]["num_constraints"] == {"is_non_negative": False}


def test_the_aws_demo_traffic_flags_the_label_as_not_integral(
    tmp_path: Path, baseline: Runner, monitor: Runner
) -> None:
    baseline(CHURN)
    lines = CHURN_TRAFFIC.read_text(encoding="utf-8").splitlines()
    write_captures(tmp_path / "c", [capture_record(x, "0.036397725343704224") for x in lines], HOUR)
    result = monitor(tmp_path / "c")
    assert result.status == "CompletedWithViolations"
    found = violations(tmp_path / "run")
    assert found[0] == {
        "feature_name": "Churn",
        "constraint_check_type": "data_type_check",
        "description": "Data type match requirement is not met. Expected data type: Integral, "
        "Expected match: 100.0%. Observed: Only 0.0% of data is Integral.",
    }
    order = [v["constraint_check_type"] for v in found]
    assert order == sorted(order, key=["data_type_check", "baseline_drift_check"].index)
