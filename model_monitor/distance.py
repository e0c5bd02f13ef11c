"""Distribution distances between a baseline and the current data (Deequ `Distance`).

* numerical: L-infinity distance between the two sketches' CDFs, evaluated at every item of
  either sketch (`numericalDistance`);
* categorical: L-infinity distance between the two category frequency vectors
  (`categoricalLInfinityDistance`), or a chi-square goodness-of-fit p-value with Deequ's
  regrouping of small categories (`categoricalChiSquareTest`).

Robust (`comparison_method: Robust`) subtracts the two-sample Kolmogorov-Smirnov allowance
`1.8 * sqrt((n + m) / (n * m))` and floors at 0, so small samples do not raise false alarms;
Simple returns the plain distance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from smlocal.model_monitor.kll import SketchRanks

C_ALPHA = 1.8
# Deequ's profiler keeps a histogram up to 120 distinct values; a numeric current column with
# no more distinct values than that is not compared (see `checks`; the threshold is unverified).
FEW_VALUES = 120
_YATES_MIN_EXPECTED, _YATES_SHARE_BELOW, _COCHRAN_MIN_EXPECTED = 5, 0.2, 10


@dataclass(frozen=True)
class Distance:
    """A distance and how it was reached: the raw L-infinity distance, the small-sample
    allowance subtracted from it (0 for Simple), and the value compared with the threshold."""

    raw: float
    allowance: float

    @property
    def value(self) -> float:
        """The distance compared with the threshold: raw minus the allowance, floored at 0."""
        return max(0.0, self.raw - self.allowance) if self.allowance else self.raw


def _robust(linf: float, n: float, m: float, robust: bool) -> Distance:
    return Distance(linf, C_ALPHA * math.sqrt((n + m) / (n * m)) if robust else 0.0)


def is_compared(current: SketchRanks) -> bool:
    """Whether a numeric current distribution is compared: more than `FEW_VALUES` distinct."""
    items = current.items
    distinct = 1 + int(np.count_nonzero(np.diff(items))) if len(items) else 0
    return distinct > FEW_VALUES


def numerical_distance(baseline: SketchRanks, current: SketchRanks, *, robust: bool) -> float:
    """Deequ's `numericalDistance(baseline, current, correctForLowNumberOfSamples=!robust)`."""
    return numerical_breakdown(baseline, current, robust=robust).value


def numerical_breakdown(baseline: SketchRanks, current: SketchRanks, *, robust: bool) -> Distance:
    """`numerical_distance` with its raw distance and allowance."""
    n, m = float(baseline.total), float(current.total)
    keys = np.union1d(baseline.items, current.items)
    cdf_baseline = baseline.ranks_at(keys) / n
    cdf_current = current.ranks_at(keys) / m
    linf = float(np.max(np.abs(cdf_baseline - cdf_current), initial=0.0))
    return _robust(linf, n, m, robust)


def categorical_distance(
    baseline: Mapping[str, int], current: Mapping[str, int], *, robust: bool
) -> float:
    """Deequ's `categoricalLInfinityDistance` over category counts."""
    return categorical_breakdown(baseline, current, robust=robust).value


def categorical_breakdown(
    baseline: Mapping[str, int], current: Mapping[str, int], *, robust: bool
) -> Distance:
    """`categorical_distance` with its raw distance and allowance."""
    n, m = float(sum(baseline.values())), float(sum(current.values()))
    linf = 0.0
    for key in set(baseline) | set(current):
        linf = max(linf, abs(baseline.get(key, 0) / n - current.get(key, 0) / m))
    return _robust(linf, n, m, robust)


def _regroup(sample: dict[str, float], expected: dict[str, float]) -> None:
    """Merge the smallest expected category into the next smallest until the test is valid."""
    while len(expected) >= 2:
        if len(expected) > 2:
            minimum, allowed = _YATES_MIN_EXPECTED, int(_YATES_SHARE_BELOW * len(expected))
        else:
            minimum, allowed = _COCHRAN_MIN_EXPECTED, 0
        if sum(1 for v in expected.values() if v < minimum) <= allowed:
            return
        smallest = min(expected, key=lambda k: expected[k])
        small_expected, small_sample = expected.pop(smallest), sample.pop(smallest, 0.0)
        second = min(expected, key=lambda k: expected[k])
        expected[second] += small_expected
        sample[second] = sample.get(second, 0.0) + small_sample


def chi_squared_p_value(baseline: Mapping[str, int], current: Mapping[str, int]) -> float:
    """P-value of the current counts against the baseline's proportions (NaN if undefined)."""
    from scipy import stats  # about a second to import; only this test needs it

    expected_total = float(sum(baseline.values()))
    sample_total = float(sum(v for k, v in current.items() if k in baseline))
    expected = {k: v / expected_total * sample_total for k, v in baseline.items()}
    sample = {k: float(v) for k, v in current.items()}
    _regroup(sample, expected)
    if len(sample) < 2 or sample_total == 0.0:
        return math.nan
    observed = np.array([sample.get(k, 0.0) for k in expected])
    frequencies = np.array(list(expected.values()))
    # Spark's Statistics.chiSqTest rescales the expected frequencies to the observed total.
    frequencies = frequencies * (observed.sum() / frequencies.sum())
    statistic = float(np.sum(np.square(observed - frequencies) / frequencies))
    return float(stats.chi2.sf(statistic, len(expected) - 1))
