"""statistics.json and suggested constraints for the less common kinds of columns."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from monitor_helpers import Runner, write_csv


@pytest.fixture
def profiled(tmp_path: Path, baseline: Runner) -> tuple[dict[str, Any], dict[str, Any]]:
    rows = [
        (
            "",  # never a value
            ["true", "false"][i % 2],
            f"user-{i}",  # 3000 distinct values
            -i,
            f"{1.5e7 + i}",
        )
        for i in range(3000)
    ]
    write_csv(tmp_path / "d.csv", rows, ("empty", "flag", "user", "neg", "big"))
    assert baseline(tmp_path / "d.csv").status == "Completed"
    out = tmp_path / "baseline"
    statistics = json.loads((out / "statistics.json").read_text(encoding="utf-8"))
    constraints = json.loads((out / "constraints.json").read_text(encoding="utf-8"))
    by_name = {f["name"]: f for f in statistics["features"]}
    return by_name, {f["name"]: f for f in constraints["features"]}


def test_all_null_column_is_unknown(profiled: tuple[dict[str, Any], dict[str, Any]]) -> None:
    statistics, constraints = profiled
    assert statistics["empty"] == {
        "name": "empty",
        "inferred_type": "Unknown",
        "string_statistics": {
            "common": {"num_present": 0, "num_missing": 3000},
            "distinct_count": 0.0,
        },
    }
    assert constraints["empty"] == {
        "name": "empty",
        "inferred_type": "Unknown",
        "completeness": 0.0,
    }


def test_boolean_column_is_reported_as_a_categorical_string(
    profiled: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    statistics, constraints = profiled
    flag = statistics["flag"]
    assert flag["inferred_type"] == "String"
    assert flag["string_statistics"]["distribution"]["categorical"]["buckets"] == [
        {"value": "false", "count": 1500},
        {"value": "true", "count": 1500},
    ]
    assert constraints["flag"]["string_constraints"] == {"domains": ["false", "true"]}


def test_high_cardinality_strings_are_counted_by_sketch(
    profiled: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    user = profiled[0]["user"]["string_statistics"]
    assert abs(user["distinct_count"] - 3000) / 3000 < 0.05
    assert "distribution" not in user


def test_negative_and_large_numbers(profiled: tuple[dict[str, Any], dict[str, Any]]) -> None:
    statistics, constraints = profiled
    assert constraints["neg"]["num_constraints"] == {"is_non_negative": False}
    big = statistics["big"]["numerical_statistics"]
    assert big["min"] == 1.5e7
    assert big["common"] == {"num_present": 3000, "num_missing": 0}


def test_large_numbers_print_in_e_notation(tmp_path: Path, baseline: Runner) -> None:
    write_csv(tmp_path / "d.csv", [(10151,), (54322832,)], ("flow",))
    baseline(tmp_path / "d.csv")
    text = (tmp_path / "baseline" / "statistics.json").read_text(encoding="utf-8")
    assert '"max" : 5.4322832E7' in text
    assert '"upper_bound" : 5441419.1' in text  # plain below 1e7, as in the real file
