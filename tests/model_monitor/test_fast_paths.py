"""The baseline's fast paths give what the code before them gave, byte for byte.

Classification by Arrow's float cast must agree with the patterns value by value (counts,
numeric masks and the doubles kept for the statistics), and whole jobs on a varied CSV must
write the files the code before the fast paths wrote (their SHA-256 below, recorded with
commit 2566373 plus the sign-of-zero fix of `kll.java_sorted`, the same on AVX2 and on
numpy's baseline SIMD), whether they run in this process, in worker processes, or with every value
forced through the patterns.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from monitor_helpers import CSV_WITH_HEADER
from varied_data import EDGY, ODD, write_varied_csv

from smlocal.model_monitor import datatypes
from smlocal.model_monitor.datatypes import Classified, by_patterns, classify, numbers_of
from smlocal.model_monitor.job import run_analysis

# Files written by the code before the fast paths, for `write_varied_csv(path, rows)`.
GOLDEN = {
    3_000: {  # one partition: exact moments, in this process
        "baseline/statistics.json": "e2e11f87dd8578546a4d85fac19576b656ec8682fbb4edb855e6b0665476a574",
        "baseline/constraints.json": "376062394cf9794efa2bd00e64600d68be217a5f46bcf7af92e198a71369256e",
        "run/statistics.json": "e2e11f87dd8578546a4d85fac19576b656ec8682fbb4edb855e6b0665476a574",
        "run/constraint_violations.json": "c90aab0df7cc5e8555214f5049b8a3cfcfe8990f2d9d82dd7c1c1f2d1ba056b5",
    },
    60_000: {  # 5 MB: two partitions, merged
        "baseline/statistics.json": "0204075ba823df71974353580b3d755f4c565a75e74719c1057187f0510bc44d",
        "baseline/constraints.json": "ad943062efb8c37684bfc699cc97fead90079fc27bb371bf1fbdddda700977d4",
        "run/statistics.json": "0204075ba823df71974353580b3d755f4c565a75e74719c1057187f0510bc44d",
        "run/constraint_violations.json": "c90aab0df7cc5e8555214f5049b8a3cfcfe8990f2d9d82dd7c1c1f2d1ba056b5",
    },
}

DIGITS = "[0-9]"
# What Arrow's float cast accepts (and more: the words in other cases, long digit runs).
CASTABLE = (
    rf"[+-]?({DIGITS}{{1,30}}(\.{DIGITS}{{0,6}})?|\.{DIGITS}{{1,6}})([eE][+-]?{DIGITS}{{1,4}})?"
    r"|[+-]?(nan|NaN|inf|Inf|INF|infinity|Infinity)"
)
EDGES = (
    *ODD,
    *EDGY,
    "0",
    "5",
    "-12",
    "3.50",
    "1e5",
    "1E+05",
    "1e-999",
    "00",
    "0.5e",
    "1.5.5",
    "--1",
    "+-1",
    "",
    " ",
    "true",
    "false",
    "TRUE",
)


def _same(fast: Classified, slow: Classified, values: pa.Array) -> None:
    assert fast.counts == slow.counts
    assert fast.numeric.tolist() == slow.numeric.tolist()
    assert numbers_of(values, fast).tobytes() == numbers_of(values, slow).tobytes()


@pytest.mark.parametrize("value", EDGES)
def test_each_edge_value_is_classified_as_by_the_patterns(value: str) -> None:
    values = pa.array([value])
    _same(classify(values), by_patterns(values), values)


def test_a_castable_chunk_takes_the_cast_and_agrees_with_the_patterns() -> None:
    castable = [value for value in EDGES if _casts(value)]
    assert {"1.", ".5", "NaN", "1e999", "+12", "-0"} <= set(castable)
    values = pa.array(["x", *castable]).slice(1)  # a non-zero offset into the buffers
    classified = classify(values)
    assert classified.numbers is not None  # the cast took the whole array
    _same(classified, by_patterns(values), values)


def _casts(value: str) -> bool:
    try:
        pa.array([value]).cast(pa.float64())
    except pa.ArrowInvalid:
        return False
    return True


@given(st.lists(st.from_regex(CASTABLE, fullmatch=True), min_size=1, max_size=40))
def test_generated_castable_values_agree_with_the_patterns(values: list[str]) -> None:
    array = pa.array(["pad", *values]).slice(1)  # a non-zero offset into the buffers
    fast = classify(array)
    assert fast.numbers is not None
    _same(fast, by_patterns(array), array)


@given(st.lists(st.text(alphabet="0123456789.eE+- naIfINFty", max_size=8), max_size=20))
def test_generated_strings_agree_with_the_patterns(values: list[str]) -> None:
    array = pa.array(values, pa.string())
    _same(classify(array), by_patterns(array), array)


def _hashes(folder: Path) -> dict[str, str]:
    return {
        f"{side}/{name}": hashlib.sha256((folder / side / name).read_bytes()).hexdigest()
        for side, names in (
            ("baseline", ("statistics.json", "constraints.json")),
            ("run", ("statistics.json", "constraint_violations.json")),
        )
        for name in names
    }


def _jobs(data: Path, output: Path, workers: int | None) -> dict[str, str]:
    """A baseline job on `data`, then a monitoring execution of `data` against it."""
    base = {"dataset_source": str(data), "dataset_format": CSV_WITH_HEADER}
    first = run_analysis({**base, "output_path": str(output / "baseline")}, workers=workers)
    assert first.status == "Completed", first.message
    second = run_analysis(
        {
            **base,
            "output_path": str(output / "run"),
            "baseline_statistics": str(output / "baseline" / "statistics.json"),
            "baseline_constraints": str(output / "baseline" / "constraints.json"),
        },
        workers=workers,
    )
    assert second.status == "Completed", second.message
    return _hashes(output)


# A column holding 1e999 (infinite as a double, Fractional by the patterns) warns in numpy's
# moments, as it did before; in a String column nothing of that is printed.
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("rows", sorted(GOLDEN))
def test_jobs_write_the_files_of_the_code_before(rows: int, tmp_path: Path) -> None:
    data = write_varied_csv(tmp_path / "varied.csv", rows)
    assert _jobs(data, tmp_path / "auto", None) == GOLDEN[rows]
    assert _jobs(data, tmp_path / "two", 2) == GOLDEN[rows]


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_jobs_with_every_value_through_the_patterns_write_the_same_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_varied_csv(tmp_path / "varied.csv", 60_000)
    fast = _jobs(data, tmp_path / "fast", 1)
    monkeypatch.setattr(datatypes, "_by_cast", lambda values: None)
    assert classify(pa.array(["1.5"])).numbers is None  # the patterns only, from here on
    assert _jobs(data, tmp_path / "slow", 1) == fast == GOLDEN[60_000]


def test_numbers_of_a_pattern_classification_parses_like_spark() -> None:
    values = pa.array(["+5", " 7", "- 5", "x", "2.25"])
    parsed = numbers_of(values, by_patterns(values))
    assert parsed[[0, 1, 4]].tolist() == [5.0, 7.0, 2.25]
    assert np.isnan(parsed[[2, 3]]).all()
