"""Analyzer states for a whole dataset: zero, update with a chunk of columns, merge.

A chunk is a batch of rows held as Arrow string columns (null = missing). Every column keeps
every kind of statistic, because its type is only known at the end: a column that looks
numeric for a million rows becomes a String column with one word in the last row.

Merging follows Spark's two-phase aggregation: the final state is `zero()` merged with each
partition's state in turn, so a single-partition input also goes through one merge (which can
condense a KLL sketch that is exactly full, as Spark's final aggregation does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from smlocal.model_monitor.datatypes import TypeCounts, classify, numbers_of
from smlocal.model_monitor.distinct import DistinctState
from smlocal.model_monitor.numeric import NumericState


@dataclass(frozen=True)
class Chunk:
    """Rows as named string columns of equal length."""

    names: Sequence[str]
    columns: Sequence[pa.Array]
    rows: int


@dataclass
class ColumnState:
    """Everything the analyzer keeps about one column."""

    present: int = 0
    types: TypeCounts = field(default_factory=TypeCounts)
    numeric: NumericState = field(default_factory=NumericState)
    distinct: DistinctState = field(default_factory=DistinctState)

    def update(self, values: pa.Array, *, exact: bool, watch: pa.Array | None = None) -> None:
        """Fold in one column of a chunk."""
        values = values.drop_null()
        if not len(values):
            return
        self.present += len(values)
        classified = classify(values)
        self.types = self.types.merge(classified.counts)
        parsed = numbers_of(values, classified)
        if classified.numeric.all():  # (no copy: the numeric state keeps none of it)
            self.numeric.update(parsed, exact=exact)
        elif classified.numeric.any():
            self.numeric.update(parsed[classified.numeric], exact=exact)
        self.distinct.update(values, parsed, watch)

    def merge(self, other: ColumnState) -> ColumnState:
        """Both partitions, self first."""
        return ColumnState(
            present=self.present + other.present,
            types=self.types.merge(other.types),
            numeric=self.numeric.merge(other.numeric),
            distinct=self.distinct.merge(other.distinct),
        )


@dataclass
class DatasetState:
    """Row count and per-column states, columns in order of first appearance."""

    rows: int = 0
    columns: dict[str, ColumnState] = field(default_factory=dict)

    def update(self, chunk: Chunk, *, exact: bool, watch: pa.Array | None = None) -> None:
        """Fold in a chunk; values in `watch` are counted exactly (see `DistinctState`)."""
        self.rows += chunk.rows
        for name, values in zip(chunk.names, chunk.columns, strict=True):
            self.columns.setdefault(name, ColumnState()).update(values, exact=exact, watch=watch)

    def merge(self, other: DatasetState) -> DatasetState:
        """Both partitions, self first; a column missing on one side merges with zero."""
        merged = DatasetState(self.rows + other.rows)
        for name in [*self.columns, *(n for n in other.columns if n not in self.columns)]:
            mine = self.columns.get(name) or ColumnState()
            theirs = other.columns.get(name) or ColumnState()
            merged.columns[name] = mine.merge(theirs)
        return merged
