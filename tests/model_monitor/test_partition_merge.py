"""Mergeability: partitions and chunks merged give the statistics of one pass.

Exact equality holds for counts, types, min/max, distinct counts, histograms and (below one
compaction) the sketch; sums and moments agree up to floating-point order, and compacted
sketches up to the sketch's error, as they do between Spark partitionings.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from monitor_helpers import CHURN, write_csv

from smlocal.model_monitor import engine, files
from smlocal.model_monitor.errors import AnalysisError
from smlocal.model_monitor.profile import build_profile
from smlocal.model_monitor.state import DatasetState
from smlocal.model_monitor.statistics import statistics_document


def _statistics(path: Path, partition_bytes: int, workers: int = 1) -> dict[str, Any]:
    paths = [path]
    names = tuple(files.csv_names(paths, header=True))
    parts = files.pack(files.plan_ranges(paths, partition_bytes), partition_bytes)
    tasks = [engine.FileTask(p, "csv", names, header=True, exact=len(parts) == 1) for p in parts]
    state = engine.analyze_files(tasks, workers=workers)
    return statistics_document(build_profile(state, list(state.columns)))


def _split(features: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    exact, approximate = [], []
    for feature in features:
        body = feature.get("numerical_statistics") or feature["string_statistics"]
        kll = body.get("distribution", {}).get("kll")
        exact.append(
            (
                feature["name"],
                feature["inferred_type"],
                body["common"],
                body.get("min"),
                body.get("max"),
                body.get("distinct_count"),
                body.get("distribution", {}).get("categorical"),
                kll and sum(len(level) << h for h, level in enumerate(kll["sketch"]["data"])),
            )
        )
        approximate.append([body.get(k) for k in ("sum", "mean", "std_dev")])
    return exact, approximate


def _close(a: list[Any], b: list[Any]) -> bool:
    return all(
        x == y or math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-12)
        for row_a, row_b in zip(a, b, strict=True)
        for x, y in zip(row_a, row_b, strict=True)
    )


@pytest.fixture
def mixed_csv(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    rows = [
        (
            int(rng.integers(0, 50)),
            f"{rng.normal():.6f}",
            rng.choice(["red", "green", "blue"]),
            f"id-{i}" if i % 3 else "",
            i if i % 500 else "n/a",
        )
        for i in range(6000)
    ]
    return write_csv(tmp_path / "mixed.csv", rows, ("count", "value", "color", "id", "late"))


def test_partitions_merge_to_one_pass(mixed_csv: Path) -> None:
    whole = _statistics(mixed_csv, 1 << 30)
    parts = _statistics(mixed_csv, 20_000)
    assert whole["dataset"] == parts["dataset"]
    exact_whole, approx_whole = _split(whole["features"])
    exact_parts, approx_parts = _split(parts["features"])
    assert exact_whole == exact_parts
    assert _close(approx_whole, approx_parts)
    late = next(f for f in parts["features"] if f["name"] == "late")
    assert late["inferred_type"] == "String"  # numeric until a word shows up late


def test_small_sketches_are_identical_across_partitions(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", [(i % 97, i * 0.5) for i in range(1500)], ("a", "b"))
    whole = _statistics(path, 1 << 30)
    parts = _statistics(path, 3000)
    for one, many in zip(whole["features"], parts["features"], strict=True):
        kll_one = one["numerical_statistics"]["distribution"]["kll"]
        kll_many = many["numerical_statistics"]["distribution"]["kll"]
        assert kll_one["buckets"] == kll_many["buckets"]
        assert sorted(kll_one["sketch"]["data"][0]) == sorted(kll_many["sketch"]["data"][0])


def test_worker_processes_give_the_same_state_as_one_process() -> None:
    assert _statistics(CHURN, 100_000, workers=2) == _statistics(CHURN, 100_000, workers=1)


def test_single_partition_is_exact_whatever_the_chunking() -> None:
    whole = _statistics(CHURN, 1 << 30)
    lines = CHURN.read_text(encoding="utf-8").splitlines()
    header, rows = lines[0].split(","), [line.split(",") for line in lines[1:]]
    for size in (97, 1000):
        state = DatasetState()
        for chunk in engine.chunks(rows, size):
            state.update(chunk, exact=True)
        profile = build_profile(state, list(state.columns), header)
        assert statistics_document(profile) == whole


def test_record_streams_merge_partitions_in_order() -> None:
    rows = [[str(i % 13), f"{i / 7:.3f}"] for i in range(5000)]
    one = engine.analyze_rows(rows, partition_rows=1 << 20)
    many = engine.analyze_rows(rows, partition_rows=700)
    doc_one = statistics_document(build_profile(one, ["_c0", "_c1"]))
    doc_many = statistics_document(build_profile(many, ["_c0", "_c1"]))
    exact_one, approx_one = _split(doc_one["features"])
    exact_many, approx_many = _split(doc_many["features"])
    assert exact_one == exact_many
    assert _close(approx_one, approx_many)


def test_keyed_rows_with_different_columns_merge() -> None:
    rows = [{"a": "1"}, {"b": "x"}, {"a": "2", "b": "y"}]
    state = engine.analyze_rows(rows, partition_rows=1)
    assert state.rows == 3
    assert {name: column.present for name, column in state.columns.items()} == {"a": 2, "b": 2}


def _tasks(path: Path, partition_bytes: int, max_columns: int = 10_000) -> list[engine.FileTask]:
    names = tuple(files.csv_names([path], header=True))
    parts = files.pack(files.plan_ranges([path], partition_bytes), partition_bytes)
    return [engine.FileTask(p, "csv", names, header=True, max_columns=max_columns) for p in parts]


def test_small_inputs_stay_in_this_process_and_large_ones_use_every_cpu(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", [(i, i * 0.5) for i in range(4000)], ("a", "b"))
    tasks = _tasks(path, 1000)
    assert len(tasks) > 4
    assert engine.plan_workers(tasks) == 1  # far below SERIAL_BYTES
    assert engine.plan_workers(tasks, 3) == 3  # as asked
    assert engine.plan_workers(tasks[:2], 3) == 2  # at most one per partition
    large = engine.FileTask((files.FileRange(str(path), 0, engine.SERIAL_BYTES),), "csv")
    assert engine.plan_workers([large, large]) == min(2, engine.default_workers())


def test_a_failing_partition_fails_the_job_in_input_order(tmp_path: Path) -> None:
    rows: list[tuple[object, ...]] = [(i, i % 7) for i in range(3000)]
    rows[1200] = (1, 2, 3, 4)  # too wide, in an early partition
    rows[2800] = (1, 2, 3, 4, 5)  # and in a late one
    path = write_csv(tmp_path / "wide.csv", rows, ("a", "b"))
    tasks = _tasks(path, 2000, max_columns=3)
    for workers in (1, 2):
        with pytest.raises(AnalysisError, match=f"{path}: line 1202 has 4 columns"):
            engine.analyze_files(tasks, workers=workers)
