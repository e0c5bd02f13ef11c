"""DistinctState: exact counts up to the cardinality threshold, sketches past it, decided per
chunk from the values' tally (the statistics' `distinct_count` and categorical histograms)."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa

from smlocal.model_monitor.datatypes import classify, numbers_of
from smlocal.model_monitor.distinct import CARDINALITY_THRESHOLD, DistinctState


def _update(state: DistinctState, values: list[str], watch: list[str] | None = None) -> None:
    array = pa.array(values, pa.string())
    watched = None if watch is None else pa.array(watch, pa.string())
    state.update(array, numbers_of(array, classify(array)), watched)


def test_a_chunk_at_the_threshold_is_counted_exactly() -> None:
    values = [f"v{i % CARDINALITY_THRESHOLD}" for i in range(5000)]
    state = DistinctState()
    _update(state, values)
    assert state.counts == Counter(values)
    assert state.distinct_count == CARDINALITY_THRESHOLD
    histogram = state.histogram()
    assert histogram is not None
    assert len(histogram) == CARDINALITY_THRESHOLD


def test_a_chunk_whose_head_looks_categorical_but_whole_is_not_goes_to_the_sketches() -> None:
    # The first 480 values hold 3 distinct ones; the rest hold 1,000 more, numbers and words.
    values = ["red", "green", "blue"] * 160 + [f"w{i}" for i in range(500)]
    values += [str(i) for i in range(500)]
    state = DistinctState()
    _update(state, values, watch=["red", "w7", "absent"])
    assert state.counts is None
    assert state.histogram() is None
    assert abs(state.distinct_count - 1003) / 1003 < 0.05
    assert state.count_in(["red", "w7", "absent"]) == 161


def test_chunks_that_overflow_together_keep_the_watched_counts() -> None:
    state = DistinctState()
    first = [f"a{i % 70}" for i in range(700)]
    _update(state, first, watch=["a1", "b1"])
    assert state.counts is not None
    assert len(state.counts) == 70
    second = [f"b{i % 70}" for i in range(350)]
    _update(state, second, watch=["a1", "b1"])
    assert state.counts is None
    assert state.count_in(["a1", "b1"]) == 10 + 5
    assert abs(state.distinct_count - 140) <= 7
