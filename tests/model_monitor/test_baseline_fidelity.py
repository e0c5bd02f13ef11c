"""The churn baseline reproduces the real analyzer's files, and the SDK reads what we write."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from monitor_helpers import CHURN, DATA, Runner

from smlocal.model_monitor.jackson import dumps


def _golden(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


@pytest.fixture
def churn_outputs(baseline: Runner, tmp_path: Path) -> Path:
    result = baseline(CHURN)
    assert result.status == "Completed"
    assert result.message == "Completed: Job completed successfully with no violations."
    return tmp_path / "baseline"


def test_statistics_head_and_churn_feature_are_byte_for_byte(churn_outputs: Path) -> None:
    text = (churn_outputs / "statistics.json").read_text(encoding="utf-8")
    assert text.startswith(_golden("churn_statistics_head.txt"))
    start = text.index('"features" : [ ') + len('"features" : [ ')
    end = text.index("\n  }", start) + len("\n  }")
    assert text[start:end] == _golden("churn_feature_statistics.txt")
    assert not text.endswith("\n")


def test_constraints_head_and_tail_are_the_real_ones(churn_outputs: Path) -> None:
    text = (churn_outputs / "constraints.json").read_text(encoding="utf-8")
    assert text.startswith(_golden("churn_constraints_head.txt"))
    # The quoted 2022 file predates the categorical keys that the current analyzer adds
    # (the SDK's integration test asserts them), so they are the only difference.
    tail = _golden("churn_constraints_tail.txt").replace(
        '"comparison_method" : "Robust"\n',
        '"comparison_method" : "Robust",\n'
        '      "categorical_comparison_threshold" : 0.1,\n'
        '      "categorical_drift_method" : "LInfinity"\n',
    )
    assert text.endswith(tail)


def test_all_70_features_in_column_order_with_real_types(churn_outputs: Path) -> None:
    statistics = json.loads((churn_outputs / "statistics.json").read_text(encoding="utf-8"))
    header = CHURN.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert [f["name"] for f in statistics["features"]] == header
    types = {f["name"]: f["inferred_type"] for f in statistics["features"]}
    assert types["Day Mins"] == "Fractional"
    assert types["Account Length"] == "Integral"
    assert statistics["dataset"] == {"item_count": 2333}


def test_files_are_rewritten_identically_by_the_jackson_writer(churn_outputs: Path) -> None:
    for name in ("statistics.json", "constraints.json"):
        text = (churn_outputs / name).read_text(encoding="utf-8")
        assert dumps(json.loads(text)) == text


def test_categorical_drift_method_environment_entry(baseline: Runner, tmp_path: Path) -> None:
    baseline(CHURN, categorical_drift_method="ChiSquared")
    body = json.loads((tmp_path / "baseline" / "constraints.json").read_text(encoding="utf-8"))
    distribution = body["monitoring_config"]["distribution_constraints"]
    assert distribution["categorical_drift_method"] == "ChiSquared"
