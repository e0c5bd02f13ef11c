"""Monitoring honours the user's edits of constraints.json, in any valid JSON layout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from monitor_helpers import (
    CSV_WITH_HEADER,
    Runner,
    classic_baseline,
    classic_captures,
    edit_json,
    violations,
    write_csv,
)


@pytest.fixture
def sdk() -> Any:
    """The SageMaker Python SDK's monitoring-file classes."""
    return pytest.importorskip("sagemaker.model_monitor")


@pytest.fixture
def classic(tmp_path: Path, baseline: Runner) -> Path:
    """The classic baseline; returns the path of its constraints.json."""
    classic_baseline(tmp_path, baseline)
    return tmp_path / "baseline" / "constraints.json"


def _sdk_edit(sdk: Any, path: Path, feature: str | None) -> None:
    """`Constraints.set_monitoring(False, feature)` and the SDK's save format (json.dumps)."""
    constraints = sdk.Constraints(json.loads(path.read_text()), "s3://bucket/constraints.json")
    constraints.set_monitoring(False, feature)
    path.write_text(json.dumps(constraints.body_dict), encoding="utf-8")


def test_evaluate_constraints_disabled_globally(
    tmp_path: Path, classic: Path, monitor: Runner, sdk: Any
) -> None:
    _sdk_edit(sdk, classic, None)
    result = monitor(classic_captures(tmp_path / "c"))
    assert result.message == "Completed: Job completed successfully with no violations."
    assert violations(tmp_path / "run") == []


def test_feature_override_from_the_sdk(
    tmp_path: Path, classic: Path, monitor: Runner, sdk: Any
) -> None:
    _sdk_edit(sdk, classic, "b")
    assert monitor(classic_captures(tmp_path / "c")).status == "Completed"


def test_feature_override_under_string_constraints(
    tmp_path: Path, baseline: Runner, monitor: Runner
) -> None:
    write_csv(tmp_path / "train.csv", [("x",), ("y",)] * 10, ("color",))
    baseline(tmp_path / "train.csv")
    write_csv(tmp_path / "now.csv", [("z",)] * 10, ("color",))

    def disable(body: Any) -> None:
        strings = body["features"][0]["string_constraints"]
        strings["monitoring_config_overrides"] = {"evaluate_constraints": "Disabled"}

    edit_json(tmp_path / "baseline" / "constraints.json", disable)
    assert monitor(tmp_path / "now.csv", CSV_WITH_HEADER).status == "Completed"


def test_lower_datatype_threshold_accepts_half(
    tmp_path: Path, classic: Path, monitor: Runner
) -> None:
    edit_json(classic, lambda body: body["monitoring_config"].update(datatype_check_threshold=0.5))
    assert monitor(classic_captures(tmp_path / "c")).status == "Completed"


def test_inferred_type_changed_to_integral(
    tmp_path: Path, baseline: Runner, monitor: Runner
) -> None:
    write_csv(tmp_path / "train.csv", [(1.5,), (2,)] * 10, ("price",))
    baseline(tmp_path / "train.csv")
    edit_json(
        tmp_path / "baseline" / "constraints.json",
        lambda body: body["features"][0].update(inferred_type="Integral"),
    )
    write_csv(tmp_path / "now.csv", [(1,), (2,), (3,), (4.5,)], ("price",))
    monitor(tmp_path / "now.csv", CSV_WITH_HEADER)
    [found] = violations(tmp_path / "run")
    assert found["description"] == (
        "Data type match requirement is not met. Expected data type: Integral, "
        "Expected match: 100.0%. Observed: Only 75.0% of data is Integral."
    )


def test_removed_feature_is_not_checked(tmp_path: Path, classic: Path, monitor: Runner) -> None:
    edit_json(classic, lambda body: body["features"].pop(1))
    assert monitor(classic_captures(tmp_path / "c")).status == "Completed"


def test_compact_json_with_ints_and_unknown_keys(
    tmp_path: Path, classic: Path, monitor: Runner
) -> None:
    classic.write_text(
        json.dumps(
            {
                "version": 0,
                "features": [
                    {"name": "a", "inferred_type": "Integral", "completeness": 1},
                    {"name": "b", "inferred_type": "Integral", "completeness": 1, "note": "x"},
                ],
                "monitoring_config": {
                    "evaluate_constraints": "Enabled",
                    "datatype_check_threshold": 1,
                    "distribution_constraints": {"enable_comparisons": True, "min_domain_mass": 1},
                },
            },
            separators=(",", ":"),
        ),
        encoding="utf-8",
    )
    result = monitor(classic_captures(tmp_path / "c"))
    assert result.violation_count == 1
    assert violations(tmp_path / "run")[0]["constraint_check_type"] == "data_type_check"


def test_higher_comparison_threshold_silences_drift(
    tmp_path: Path, baseline: Runner, monitor: Runner
) -> None:
    write_csv(tmp_path / "train.csv", [(i,) for i in range(1000)], ("x",))
    baseline(tmp_path / "train.csv")
    write_csv(tmp_path / "now.csv", [(i,) for i in range(600, 1100)], ("x",))
    edit_json(
        tmp_path / "baseline" / "constraints.json",
        lambda b: b["monitoring_config"]["distribution_constraints"].update(
            comparison_threshold=0.6
        ),
    )
    assert monitor(tmp_path / "now.csv", CSV_WITH_HEADER).status == "Completed"


def test_invalid_flag_value_fails_clearly(tmp_path: Path, classic: Path, monitor: Runner) -> None:
    edit_json(classic, lambda body: body["monitoring_config"].update(emit_metrics="Sometimes"))
    result = monitor(classic_captures(tmp_path / "c"))
    assert result.status == "Failed"
    assert result.message == (
        "monitoring_config.emit_metrics must be Enabled or Disabled, not 'Sometimes'"
    )
