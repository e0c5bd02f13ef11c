"""Metrics derived from a finished dataset state: one profile per feature, in column order."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from smlocal.model_monitor.datatypes import DataType, TypeCounts
from smlocal.model_monitor.distinct import DistinctState
from smlocal.model_monitor.numeric import NumericState
from smlocal.model_monitor.state import ColumnState, DatasetState

NUMERIC_TYPES = (DataType.INTEGRAL, DataType.FRACTIONAL)
_POSITIONAL = re.compile(r"_c(\d+)")


@dataclass(frozen=True)
class FeatureProfile:
    """What the files and the checks need to know about one feature."""

    name: str
    inferred_type: DataType  # as written: Deequ's type, with Boolean reported as String
    present: int
    missing: int
    types: TypeCounts
    numeric: NumericState
    distinct: DistinctState

    @property
    def is_numeric(self) -> bool:
        """Integral or Fractional."""
        return self.inferred_type in NUMERIC_TYPES

    def completeness(self, item_count: int) -> float:
        """Share of rows with a value."""
        return self.present / item_count if item_count else 0.0


@dataclass(frozen=True)
class DatasetProfile:
    """All features of one analysed dataset."""

    item_count: int
    features: tuple[FeatureProfile, ...]


def _reported_type(column: ColumnState) -> DataType:
    inferred = column.types.inferred()
    if inferred == DataType.BOOLEAN:
        # The analyzer's files only know Integral, Fractional, String (and Unknown).
        return DataType.STRING
    if inferred in NUMERIC_TYPES and column.numeric.count == 0:
        return DataType.STRING  # nothing parsed as a number (e.g. only "- 5"-like values)
    return inferred


def column_order(names: Sequence[str], order: str) -> list[str]:
    """Columns in output order: as first seen, sorted by name, or `_c<i>` by position."""
    if order == "sorted":
        return sorted(names)
    if order == "positional":
        return sorted(
            names, key=lambda n: int(m.group(1)) if (m := _POSITIONAL.fullmatch(n)) else 0
        )
    return list(names)


def build_profile(
    state: DatasetState, order: Sequence[str], rename: Sequence[str] = ()
) -> DatasetProfile:
    """Profiles for the columns in `order`, the first ones renamed to `rename` by position."""
    features = []
    for position, raw in enumerate(order):
        column = state.columns[raw]
        name = rename[position] if position < len(rename) else raw
        features.append(
            FeatureProfile(
                name=name,
                inferred_type=_reported_type(column),
                present=column.present,
                missing=state.rows - column.present,
                types=column.types,
                numeric=column.numeric,
                distinct=column.distinct,
            )
        )
    return DatasetProfile(state.rows, tuple(features))
