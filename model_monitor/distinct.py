"""Mergeable distinct-value state: exact counts while few, sketches beyond that.

String features report `distinct_count` and, for low cardinality, a categorical histogram
(`distribution.categorical.buckets`) that also feeds `string_constraints.domains`. The real
analyzer gets the count from Spark's HyperLogLog++ (p = 9, XxHash64, about 5 % error) and
Deequ's profiler keeps a histogram only up to 120 distinct values. Here values are counted
exactly while there are at most 120 of them (so low-cardinality columns get exact counts and
an exact histogram). Past that, non-numeric strings go to an Apache DataSketches HLL (lg k 12,
about 1.6 % error) and numeric-looking ones to the vectorised `hll.NumberSketch`; the two sets
are disjoint and their estimates add up. Counts beyond 120 therefore differ from the real
analyzer's by the error of the sketches.

A monitoring run must also know how many values fall inside each baseline domain
(`categorical_values_check`), whatever the column's cardinality and before it is known which
baseline feature a column will be named after. So the state can be given a *watch set* (the
union of all baseline domains) and keeps exact counts of those values past the threshold too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import datasketches
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from smlocal.model_monitor.arrays import picked, strings
from smlocal.model_monitor.datatypes import classify, numbers_of
from smlocal.model_monitor.hll import NumberSketch

CARDINALITY_THRESHOLD = 120
HLL_LG_K = 12
Floats = npt.NDArray[np.float64]


def _add_counts(tally: pa.StructArray, into: Counter[str]) -> None:
    """Add the output of `pyarrow.compute.value_counts` to a counter."""
    values, counts = tally.field("values").to_pylist(), tally.field("counts").to_pylist()
    for value, count in zip(values, counts, strict=True):
        into[value] += count


@dataclass
class DistinctState:
    """Exact value counts up to the threshold; sketches once above it."""

    counts: Counter[str] | None = field(default_factory=Counter)
    strings: datasketches.hll_sketch | None = None
    numbers: NumberSketch | None = None
    watched: Counter[str] = field(default_factory=Counter)  # at least the watched values

    def update(self, values: pa.Array, parsed: Floats, watch: pa.Array | None = None) -> None:
        """Fold in non-null values; `parsed` holds their doubles (NaN: not a number)."""
        if not len(values):
            return
        if self.counts is not None:
            # A prefix with too many distinct values settles it without counting everything.
            # The tally is the unique values with their counts: one hashing pass, not two.
            head = values.slice(0, 4 * CARDINALITY_THRESHOLD)
            if len(pc.unique(head)) <= CARDINALITY_THRESHOLD:
                tally = pc.value_counts(values)
                if len(tally) <= CARDINALITY_THRESHOLD:
                    _add_counts(tally, self.counts)
                    if len(self.counts) > CARDINALITY_THRESHOLD:
                        self._overflow(watch)
                    return
            self._overflow(watch)
        self._sketch(values, parsed)
        if watch is not None and len(watch):
            watched = values.filter(pc.is_in(values, value_set=watch))
            if len(watched):
                _add_counts(pc.value_counts(watched), self.watched)

    def _sketch(self, values: pa.Array, parsed: Floats) -> None:
        assert self.strings is not None
        assert self.numbers is not None
        is_number = ~np.isnan(parsed)
        if is_number.all():  # a numeric chunk: no other strings to count
            self.numbers.update(parsed)
            return
        self.numbers.update(parsed[is_number])
        others = picked(values, ~is_number) if is_number.any() else values
        add = self.strings.update
        for value in pc.unique(others).to_pylist():
            add(value)

    def _overflow(self, watch: pa.Array | None) -> None:
        """Switch from exact counts to the sketches, keeping the watched values' counts."""
        assert self.counts is not None
        keep = set(watch.to_pylist()) if watch is not None else set()
        self.watched.update({v: c for v, c in self.counts.items() if v in keep})
        counted = list(self.counts)
        self.counts = None
        self.strings = datasketches.hll_sketch(HLL_LG_K)
        self.numbers = NumberSketch()
        if counted:  # (a partition's first chunk may overflow before anything was counted)
            seen = strings(counted)
            self._sketch(seen, numbers_of(seen, classify(seen)))

    def _as_sketches(self) -> DistinctState:
        """This state in sketch form (a converted copy when it is still exact)."""
        if self.counts is None:
            return self
        converted = DistinctState(Counter(self.counts))
        converted._overflow(None)
        converted.watched = Counter(self.counts)  # every count: a superset of any watch set
        return converted

    def merge(self, other: DistinctState) -> DistinctState:
        """The state of both inputs."""
        if self.counts is not None and other.counts is not None:
            merged = DistinctState(self.counts + other.counts)
            return (
                merged._as_sketches()
                if len(merged.counts or ()) > CARDINALITY_THRESHOLD
                else merged
            )
        mine, theirs = self._as_sketches(), other._as_sketches()
        assert mine.numbers is not None
        assert theirs.numbers is not None
        union = datasketches.hll_union(HLL_LG_K)
        union.update(mine.strings)
        union.update(theirs.strings)
        numbers = mine.numbers.merge(theirs.numbers)
        return DistinctState(None, union.get_result(), numbers, mine.watched + theirs.watched)

    def count_in(self, domain: Iterable[str]) -> int:
        """How many values were in `domain` (a subset of the watch set past the threshold)."""
        source = self.watched if self.counts is None else self.counts
        return sum(source.get(value, 0) for value in set(domain))

    @property
    def distinct_count(self) -> float:
        """Exact below the threshold, the sketches' rounded estimate above it."""
        if self.counts is not None:
            return float(len(self.counts))
        assert self.strings is not None
        assert self.numbers is not None
        # A sketch's union with itself is the sketch, but estimated with the composite
        # estimator (a directly fed sketch uses HIP), as every merged sketch is: so the
        # count does not depend on how the input was partitioned.
        union = datasketches.hll_union(HLL_LG_K)
        union.update(self.strings)
        union.update(self.strings)
        strings = union.get_result().get_estimate()
        return float(round(strings + self.numbers.estimate()))

    def histogram(self) -> list[tuple[str, int]] | None:
        """Values by descending count (ties by value), or None above the threshold."""
        if self.counts is None:
            return None
        return sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))

    def __getstate__(self) -> dict[str, Any]:
        strings = None if self.strings is None else self.strings.serialize_updatable()
        return {**self.__dict__, "strings": strings}

    def __setstate__(self, state: dict[str, Any]) -> None:
        raw = state["strings"]
        self.__dict__.update(state)
        self.strings = None if raw is None else datasketches.hll_sketch.deserialize(raw)
