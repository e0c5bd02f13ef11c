"""The SageMaker Python SDK reads every file the analyzer writes (and we read the SDK's)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from monitor_helpers import Runner, capture_record, write_captures, write_csv

from smlocal.model_monitor.constraints import parse_constraints


@pytest.fixture
def sdk() -> Any:
    return pytest.importorskip("sagemaker.model_monitor")


def _body(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_sdk_classes_read_baseline_and_monitoring_outputs(
    tmp_path: Path, baseline: Runner, monitor: Runner, sdk: Any
) -> None:
    rows = [(i % 2, i * 1.5, ["a", "b", "c"][i % 3], f"free text {i}") for i in range(300)]
    write_csv(tmp_path / "train.csv", rows, ("label", "x", "cat", "text"))
    baseline(tmp_path / "train.csv")
    records = [capture_record(f"{i},z,t", str(i % 2)) for i in range(50)]
    write_captures(tmp_path / "c", records, "2022/04/18/00")
    assert monitor(tmp_path / "c").status == "CompletedWithViolations"

    for folder in ("baseline", "run"):
        statistics = sdk.Statistics(_body(tmp_path / folder / "statistics.json"), "s3://b/s.json")
        features = {f["name"]: f for f in statistics.body_dict["features"]}
        assert features["cat"]["string_statistics"]["common"]["num_present"] > 0
        constraints = sdk.Constraints(_body(tmp_path / folder / "constraints.json"), "s3://b/c")
        assert constraints.body_dict["monitoring_config"]["evaluate_constraints"] == "Enabled"

    statistics = _body(tmp_path / "baseline" / "statistics.json")
    cat = next(f for f in statistics["features"] if f["name"] == "cat")["string_statistics"]
    assert cat["distinct_count"] == 3.0
    assert cat["distribution"]["categorical"]["buckets"] == [
        {"value": "a", "count": 100},
        {"value": "b", "count": 100},
        {"value": "c", "count": 100},
    ]
    text = next(f for f in statistics["features"] if f["name"] == "text")["string_statistics"]
    assert "distribution" not in text  # too many values for a histogram
    suggested = _body(tmp_path / "baseline" / "constraints.json")["features"]
    assert suggested[2]["string_constraints"] == {"domains": ["a", "b", "c"]}
    assert "string_constraints" not in suggested[3]

    found = sdk.ConstraintViolations(
        _body(tmp_path / "run" / "constraint_violations.json"), "s3://b/v.json"
    ).body_dict["violations"]
    assert ("cat", "categorical_values_check") in {
        (v["feature_name"], v["constraint_check_type"]) for v in found
    }


# The SDK's own test fixture (pre-release key names; unknown keys must be ignored).
SDK_CONSTRAINTS = """{"version": 0.0, "features": [{"name": "message", "inferred_type": "String",
 "completeness": 1.0, "string_constraints": {"domains": ["preproc-not-YET-supported-for-csv-json"],
 "monitoring_config_overrides": {"evaluate_constraints": "Enabled", "emit_metrics": "Enabled"}}},
 {"name": "second_message", "inferred_type": "String", "completeness": 1.0, "string_constraints":
 {"domains": ["preproc-not-YET-supported-for-csv-json"]}}], "monitoring_config":
 {"evaluate_constraints": "Enabled", "emit_metrics": "Enabled", "distribution_constraints":
 {"enable_comparisons": true, "min_domain_mass": 1.0, "comparison_threshold": 1.0}}}"""


def test_sdk_fixture_constraints_parse() -> None:
    constraints = parse_constraints(json.loads(SDK_CONSTRAINTS))
    assert [f.name for f in constraints.features] == ["message", "second_message"]
    assert constraints.config.comparison_threshold == 1.0
    assert constraints.config.categorical_comparison_threshold == 1.0  # follows, per the docs
    assert constraints.features[0].domains == ("preproc-not-YET-supported-for-csv-json",)
