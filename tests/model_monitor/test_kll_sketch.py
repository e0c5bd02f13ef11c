"""Deequ's deterministic KLL sketch: exact buffers, merge semantics, ranks and buckets."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from monitor_helpers import CHURN, DATA

from smlocal.model_monitor.kll import KllSketch, SketchRanks, capacity, java_sorted


def _one_by_one(values: np.ndarray) -> KllSketch:
    sketch = KllSketch.zero()
    for value in values:
        sketch.update(np.array([value]))
    return sketch


def _churn_labels() -> np.ndarray:
    lines = CHURN.read_text(encoding="utf-8").splitlines()[1:]
    return np.array([float(line.split(",")[0]) for line in lines])


def test_capacities_follow_deequ() -> None:
    assert [capacity(h) for h in range(4)] == [2050, 1314, 842, 540]
    assert capacity(40) == 4  # ceil of a tiny share of k is 1: 2 * (1 + 1)


def test_churn_label_sketch_is_the_real_one() -> None:
    real = json.loads((DATA / "churn_feature_statistics.txt").read_text(encoding="utf-8"))
    kll = real["numerical_statistics"]["distribution"]["kll"]
    sketch = KllSketch.zero().merge(_one_by_one(_churn_labels()))  # Spark: partial, then final
    assert [level.tolist() for level in sketch.levels()] == kll["sketch"]["data"]
    assert [list(b) for b in sketch.buckets()] == [
        [b["lower_bound"], b["upper_bound"], b["count"]] for b in kll["buckets"]
    ]


@pytest.mark.parametrize("step", [1, 3, 1000, 2051, 100_000])
def test_bulk_updates_equal_single_updates(step: int) -> None:
    values = np.random.default_rng(7).normal(size=12_345)
    expected = _one_by_one(values[:5000])
    bulk = KllSketch.zero()
    for start in range(0, 5000, step):
        bulk.update(values[start : min(start + step, 5000)])
    assert [a.tolist() for a in bulk.levels()] == [b.tolist() for b in expected.levels()]


def test_offsets_alternate_0_1_1_0() -> None:
    sketch = KllSketch.zero()
    sketch.update(np.arange(2051, dtype=float))  # first compaction: offset 0, keeps evens
    assert sketch.levels()[1][:3].tolist() == [0.0, 2.0, 4.0]
    assert sketch.levels()[0].tolist() == [2050.0]  # the odd last item stays, unsorted


def test_total_weight_is_the_value_count() -> None:
    sketch = KllSketch.zero()
    sketch.update(np.random.default_rng(1).random(100_000))
    assert sketch.ranks().total == 100_000


def test_merge_condenses_a_full_sketch_like_spark_final_aggregation() -> None:
    full = KllSketch.zero()
    full.update(np.arange(2050, dtype=float))  # exactly at capacity: no condense yet
    assert [len(level) for level in full.levels()] == [2050]
    merged = KllSketch.zero().merge(full)
    assert [len(level) for level in merged.levels()] == [0, 1025]


def test_merge_concatenates_levels_in_order() -> None:
    first, second = KllSketch.zero(), KllSketch.zero()
    first.update(np.array([3.0, 1.0]))
    second.update(np.array([2.0]))
    merged = first.merge(second)
    assert merged.levels()[0].tolist() == [3.0, 1.0, 2.0]
    assert (merged.minimum, merged.maximum) == (1.0, 3.0)
    assert first.levels()[0].tolist() == [3.0, 1.0]  # inputs unchanged


def test_bounds_start_from_deequs_initial_minimum_for_large_values() -> None:
    sketch = KllSketch.zero()
    sketch.update(np.array([1.6e12, 1.7e12]))
    assert sketch.buckets()[0][0] == 2147483647.0  # Deequ's buffer starts at Int.MaxValue


def test_values_on_inner_bounds_count_in_the_bucket_above() -> None:
    sketch = KllSketch.zero()
    sketch.update(np.array([1.0, 3.0, 3.0, 5.0]))
    counts = [count for _, _, count in sketch.buckets()]
    assert counts == [1.0, 0.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 1.0]


def test_constant_column_puts_everything_in_the_last_bucket() -> None:
    sketch = KllSketch.zero()
    sketch.update(np.full(10, 4.0))
    assert [count for _, _, count in sketch.buckets()] == [0.0] * 9 + [10.0]


def test_ranks_from_statistics_levels_weigh_level_h_by_2_to_the_h() -> None:
    ranks = SketchRanks.from_levels([np.array([5.0]), np.array([1.0, 9.0])])
    assert ranks.total == 5
    assert ranks.rank(1.0) == 2
    assert ranks.rank_exclusive(5.0) == 2
    assert ranks.rank(5.0) == 3
    assert ranks.ranks_at(np.array([0.0, 9.0])).tolist() == [0, 5]


def test_java_sorted_orders_negative_zero_first() -> None:
    ordered = java_sorted(np.array([0.0, -0.0, 1.0, -1.0, 0.0, -0.0]))
    assert [str(v) for v in ordered] == ["-1.0", "-0.0", "-0.0", "0.0", "0.0", "1.0"]


@pytest.mark.parametrize("size", [16, 64, 300, 2050])
def test_java_sorted_keeps_every_zero_sign_where_numpy_simd_sorts_flip_them(size: int) -> None:
    # numpy's AVX2 sort hands back 0.0 for some -0.0 (and -0.0 for some 0.0) at these sizes.
    values = np.random.default_rng(0).integers(-5, 5, size).astype(float)
    values[::7] = -0.0
    negative = int(np.count_nonzero(np.signbit(values[values == 0])))
    ordered = java_sorted(values)
    zeros = ordered[ordered == 0]
    assert np.signbit(zeros).tolist() == [True] * negative + [False] * (len(zeros) - negative)
    assert np.array_equal(np.sort(values), ordered)


class _Deequ:
    """Deequ's `NonSampleCompactor` loop written out item by item: the oracle for `KllSketch`,
    which works the same schedule out from counts and sorts whole runs at once."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.levels: list[list[float]] = []
        self.compactions: list[int] = []
        self.offsets: list[int] = []
        self._expand()

    def _expand(self) -> None:
        self.levels.append([])
        self.compactions.append(0)
        self.offsets.append(0)

    def _capacity(self) -> int:
        return sum(capacity(h, self.k) for h in range(len(self.levels)))

    def _size(self) -> int:
        return sum(len(level) for level in self.levels)

    def _condense(self) -> None:
        for h, level in enumerate(self.levels):
            if len(level) >= capacity(h, self.k):
                if h + 1 >= len(self.levels):
                    self._expand()
                even = len(level) - len(level) % 2
                if self.compactions[h] % 2 == 1:
                    self.offsets[h] = 1 - self.offsets[h]
                ordered = sorted(level[:even], key=lambda v: (v, not math.copysign(1, v) < 0))
                self.levels[h + 1].extend(ordered[self.offsets[h] :: 2])
                self.levels[h] = level[even:]
                self.compactions[h] += 1
                return

    def update(self, value: float) -> None:
        self.levels[0].append(value)
        if self._size() > self._capacity():
            self._condense()

    def merge(self, other: _Deequ) -> _Deequ:
        merged = _Deequ(self.k)
        merged.levels = [list(level) for level in self.levels]
        merged.compactions, merged.offsets = list(self.compactions), list(self.offsets)
        while len(merged.levels) < len(other.levels):
            merged._expand()
        for h, level in enumerate(other.levels):
            merged.levels[h].extend(level)
        while merged._size() >= merged._capacity():
            merged._condense()
        return merged


def _bits(levels: list[np.ndarray] | list[list[float]]) -> list[bytes]:
    return [np.asarray(level, dtype=np.float64).tobytes() for level in levels]


@pytest.mark.parametrize("seed", range(6))
def test_updates_and_merges_equal_deequs_item_by_item_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = [16, 64, 200][seed % 3]
    oracle, sketch = _Deequ(k), KllSketch.zero(k)
    partials = []
    for _ in range(3):
        size = int(rng.integers(1, 4000))
        values = rng.integers(-4, 4, size).astype(float) if seed % 2 else rng.normal(size=size)
        values[rng.random(size) < 0.1] = -0.0  # zero signs must survive the batched sorts
        values[rng.random(size) < 0.02] = np.inf  # sorted last, as Java sorts them
        part_oracle, part = _Deequ(k), KllSketch.zero(k)
        for piece in np.array_split(values, int(rng.integers(1, 5))):
            part.update(piece)
        for value in values.tolist():
            part_oracle.update(value)
        assert _bits(part.levels()) == _bits(part_oracle.levels)
        partials.append((part_oracle, part))
    for part_oracle, part in partials:
        oracle, sketch = oracle.merge(part_oracle), sketch.merge(part)
        assert _bits(sketch.levels()) == _bits(oracle.levels)
        assert [c.compactions for c in sketch.compactors] == oracle.compactions
