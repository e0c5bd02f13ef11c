"""What a monitoring report shows, built from the execution's and the baseline's files.

Pure: takes parsed JSON documents (any valid layout of `statistics.json`,
`constraint_violations.json` and `constraints.json`) and returns plain data for the page.

The drift distance of a feature is the one in its `baseline_drift_check` violation when there
is one; otherwise it is computed again from the two sketches (or category counts) with the
rules of `checks` (same types, comparison enabled, the baseline constraints' method), so
features below the threshold show their distance too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from smlocal.model_monitor import distance, layout
from smlocal.model_monitor.constraints import (
    CHI_SQUARED,
    ROBUST,
    BaselineConstraints,
    MonitoringConfig,
    parse_constraints,
)
from smlocal.model_monitor.contract import COMPLETED, WITH_VIOLATIONS, exit_message
from smlocal.model_monitor.errors import AnalysisError
from smlocal.model_monitor.kll import SketchRanks
from smlocal.model_monitor.statistics import (
    BaselineFeatureStatistics,
    CheckedStatistics,
    check_statistics,
    parse_statistics,
)

_DRIFT_VALUE = re.compile(r"(?:distance|p-value): (\S+) (?:exceeds|is below)")


@dataclass(frozen=True)
class Side:
    """One feature's statistics in one dataset (baseline or current)."""

    inferred_type: str
    present: int
    missing: int
    numeric: bool
    mean: float | None = None
    std_dev: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    distinct: float | None = None
    buckets: tuple[tuple[float, float, float], ...] = ()  # KLL: (lower, upper, count)
    categories: tuple[tuple[str, int], ...] | None = None  # None: too many to bucket


@dataclass(frozen=True)
class ViolationRow:
    """One entry of `constraint_violations.json`."""

    feature_name: str
    check_type: str
    description: str


@dataclass(frozen=True)
class Drift:
    """A drift measure: an L-infinity distance, or a chi-squared p-value."""

    kind: str  # "distance" | "p-value"
    value: float
    threshold: float | None
    method: str
    # For a distance: the raw L-infinity distance and the small-sample allowance the Robust
    # method subtracts from it (value = max(0, raw - allowance)); None when not known.
    raw: float | None = None
    allowance: float | None = None

    @property
    def exceeded(self) -> bool:
        """Whether the measure is past its threshold (False when no threshold is known)."""
        if self.threshold is None:
            return False
        if self.kind == "p-value":
            return self.value < self.threshold
        return self.value > self.threshold


@dataclass(frozen=True)
class FeatureView:
    """Everything shown for one feature."""

    name: str
    baseline: Side | None
    current: Side | None
    violations: tuple[ViolationRow, ...] = ()
    drift: Drift | None = None
    expected_type: str | None = None  # from the baseline constraints (users edit it)
    required_completeness: float | None = None

    @property
    def flagged(self) -> bool:
        """Whether any violation names this feature."""
        return bool(self.violations)


@dataclass(frozen=True)
class ExecutionInfo:
    """What is known about the execution besides its files (each part optional)."""

    endpoint_name: str | None = None
    schedule_name: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    scheduled_hour: datetime | None = None  # from an `.../yyyy/mm/dd/hh` output folder
    sources: tuple[tuple[str, str], ...] = ()  # (what, location) of each file read


@dataclass(frozen=True)
class Report:
    """The whole page's content; features flagged first, then in column order."""

    title: str
    info: ExecutionInfo
    baseline_items: int | None
    current_items: int | None
    violations: tuple[ViolationRow, ...]
    features: tuple[FeatureView, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = ()  # smlocal's explanations, e.g. columns not lining up

    @property
    def status(self) -> str:
        """The execution status the violations imply."""
        return WITH_VIOLATIONS if self.violations else COMPLETED

    @property
    def message(self) -> str:
        """The status line as the analyzer writes it (`ExitMessage`)."""
        return exit_message(len(self.violations))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _count(value: Any) -> int:
    number = _number(value)
    return int(number) if number is not None and math.isfinite(number) else 0


def _finite(value: Any) -> float | None:
    number = _number(value)
    return number if number is not None and math.isfinite(number) else None


def _buckets(body: Mapping[str, Any]) -> tuple[tuple[float, float, float], ...]:
    raw = ((body.get("distribution") or {}).get("kll") or {}).get("buckets") or []
    rows = []
    for bucket in raw:
        low, high = _finite(bucket.get("lower_bound")), _finite(bucket.get("upper_bound"))
        count = _finite(bucket.get("count"))
        if low is not None and high is not None and count is not None:
            rows.append((low, high, count))
    return tuple(rows)


def _categories(body: Mapping[str, Any]) -> tuple[tuple[str, int], ...] | None:
    raw = ((body.get("distribution") or {}).get("categorical") or {}).get("buckets")
    if not isinstance(raw, list):
        return None
    pairs = ((str(b.get("value")), _count(b.get("count"))) for b in raw)
    return tuple(sorted(pairs, key=lambda item: (-item[1], item[0])))


def feature_side(entry: Mapping[str, Any]) -> Side:
    """One feature entry of a `statistics.json` as the report shows it."""
    inferred = str(entry.get("inferred_type") or "Unknown")
    numeric = entry.get("numerical_statistics")
    if isinstance(numeric, Mapping):
        common = numeric.get("common") or {}
        return Side(
            inferred_type=inferred,
            present=_count(common.get("num_present")),
            missing=_count(common.get("num_missing")),
            numeric=True,
            mean=_number(numeric.get("mean")),
            std_dev=_number(numeric.get("std_dev")),
            minimum=_number(numeric.get("min")),
            maximum=_number(numeric.get("max")),
            buckets=_buckets(numeric),
        )
    strings = entry.get("string_statistics")
    body: Mapping[str, Any] = strings if isinstance(strings, Mapping) else {}
    common = body.get("common") or {}
    return Side(
        inferred_type=inferred,
        present=_count(common.get("num_present")),
        missing=_count(common.get("num_missing")),
        numeric=False,
        distinct=_number(body.get("distinct_count")),
        categories=_categories(body),
    )


def _features(checked: CheckedStatistics) -> tuple[int | None, dict[str, Side]]:
    """Item count and features by name, in file order."""
    document = checked.document
    sides = {str(entry["name"]): feature_side(entry) for entry in document["features"]}
    items = (document.get("dataset") or {}).get("item_count")
    number = _number(items)
    return (int(number) if number is not None else None), sides


def parse_violations(document: Any) -> tuple[ViolationRow, ...]:
    """The entries of a `constraint_violations.json`."""
    try:
        entries = document["violations"]
        return tuple(
            ViolationRow(
                str(e["feature_name"]), str(e["constraint_check_type"]), str(e["description"])
            )
            for e in entries
        )
    except (KeyError, TypeError) as exc:
        raise AnalysisError(f"Invalid constraint violations: {exc!r}") from exc


def _ranks(levels: Sequence[Any] | None) -> SketchRanks | None:
    ranks = SketchRanks.from_levels(list(levels)) if levels else None
    return ranks if ranks is not None and ranks.total else None


def computed_drift(
    baseline: BaselineFeatureStatistics,
    current: BaselineFeatureStatistics,
    config: MonitoringConfig,
) -> Drift | None:
    """The drift measure `checks` computes for a feature, from its two statistics entries."""
    if not config.perform_comparison or baseline.inferred_type != current.inferred_type:
        return None
    robust = config.comparison_method == ROBUST
    base, now = _ranks(baseline.sketch_levels), _ranks(current.sketch_levels)
    if base is not None and now is not None:
        if not distance.is_compared(now):
            return None
        found = distance.numerical_breakdown(base, now, robust=robust)
        return _distance(found, config.comparison_threshold, config.comparison_method)
    if not (baseline.categorical and current.categorical):
        return None
    threshold = config.categorical_comparison_threshold
    if config.categorical_drift_method == CHI_SQUARED:
        p_value = distance.chi_squared_p_value(baseline.categorical, current.categorical)
        return None if math.isnan(p_value) else Drift("p-value", p_value, threshold, CHI_SQUARED)
    found = distance.categorical_breakdown(baseline.categorical, current.categorical, robust=robust)
    return _distance(found, threshold, f"LInfinity, {config.comparison_method}")


def _distance(found: distance.Distance, threshold: float, method: str) -> Drift:
    return Drift("distance", found.value, threshold, method, found.raw, found.allowance)


def _reported_drift(rows: Sequence[ViolationRow], computed: Drift | None) -> Drift | None:
    """The drift in a violation's description (what the checks found), else the computed one."""
    for row in rows:
        match = _DRIFT_VALUE.search(row.description)
        if row.check_type == "baseline_drift_check" and match:
            try:
                value = float(match.group(1))
            except ValueError:
                continue
            kind = "p-value" if "p-value" in match.group(0) else "distance"
            if computed is not None and computed.kind == kind:
                return replace(computed, value=value)  # the reported value, computed parts
            threshold = computed.threshold if computed else None
            method = computed.method if computed else "as reported"
            return Drift(kind, value, threshold, method)
    return computed


@dataclass(frozen=True)
class _Drifts:
    baseline: dict[str, BaselineFeatureStatistics]
    current: dict[str, BaselineFeatureStatistics]
    constraints: BaselineConstraints | None

    def of(self, name: str) -> Drift | None:
        base, now = self.baseline.get(name), self.current.get(name)
        if base is None or now is None:
            return None
        feature = self.constraints.feature(name) if self.constraints else None
        if self.constraints and feature is None:
            return None  # a feature deleted from the constraints is not checked
        config = feature.config if feature else MonitoringConfig()
        if not config.evaluate_constraints:
            return None
        return computed_drift(base, now, config)


def _order(names: Sequence[str], violations: Sequence[ViolationRow]) -> list[str]:
    """Flagged features in the order of their first violation, then the rest in column order."""
    flagged = list(dict.fromkeys(v.feature_name for v in violations))
    return flagged + [n for n in names if n not in set(flagged)]


def build_report(
    *,
    statistics: Any,
    violations: Any,
    baseline_statistics: Any,
    baseline_constraints: Any | None = None,
    title: str,
    info: ExecutionInfo | None = None,
) -> Report:
    """The report's content from the parsed documents. The two statistics documents may come
    as CheckedStatistics (render_report checks them as it reads them); others are checked here,
    once each."""
    baseline = check_statistics(baseline_statistics, "Invalid baseline statistics")
    current = check_statistics(statistics, "Invalid current statistics")
    base_items, base_sides = _features(baseline)
    items, sides = _features(current)
    rows = parse_violations(violations)
    constraints = None if baseline_constraints is None else parse_constraints(baseline_constraints)
    base_features = parse_statistics(baseline, "baseline statistics")
    current_features = parse_statistics(current, "statistics")
    drifts = _Drifts(
        {f.name: f for f in base_features}, {f.name: f for f in current_features}, constraints
    )
    note = layout.mismatch(len(base_features), len(current_features))
    names = _order(list(dict.fromkeys([*base_sides, *sides])), rows)
    features = []
    for name in names:
        own = tuple(v for v in rows if v.feature_name == name)
        limits = constraints.feature(name) if constraints else None
        features.append(
            FeatureView(
                name=name,
                baseline=base_sides.get(name),
                current=sides.get(name),
                violations=own,
                drift=_reported_drift(own, drifts.of(name)),
                expected_type=limits.inferred_type if limits else None,
                required_completeness=limits.completeness if limits else None,
            )
        )
    notes = (note,) if note else ()
    return Report(title, info or ExecutionInfo(), base_items, items, rows, tuple(features), notes)
