"""Mergeable numeric analyzer state: count, sum, central moments, min/max, negatives, KLL.

The arithmetic follows the Spark aggregates the analyzer runs, because the printed numbers
depend on it:

* `sum` is a left-to-right double sum (Spark's `Sum` within a partition; partial sums added);
* `std_dev` is the population deviation from Spark's `CentralMomentAgg` (Deequ's
  `stateful_stddev_pop`): per value `n += 1; delta = x - avg; deltaN = delta / n;
  avg += deltaN; m2 += delta * (delta - deltaN)`, partitions combined with Chan's formula.

That per-value update is a Python loop (about 0.4 us per value), so it runs only in *exact*
mode, which the engine uses when the whole input is one partition (as Spark reads inputs up to
4 MiB); the churn baseline is then bit-for-bit the real one. In *fast* mode, used for larger
inputs, each chunk's mean and M2 come from numpy (two passes) and are merged with the same
formula Spark uses between partitions, so `std_dev` differs from Spark only in the last bits,
as Spark's own result differs between partitionings. Everything else is exact in both modes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from smlocal.model_monitor.kll import KllSketch

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Moments:
    """Spark's central-moment buffer for order 2: (n, avg, m2)."""

    n: float = 0.0
    avg: float = 0.0
    m2: float = 0.0

    def update_exact(self, values: Floats) -> Moments:
        """Spark's per-value update, value by value."""
        n, avg, m2 = self.n, self.avg, self.m2
        for x in values.tolist():
            n += 1.0
            delta = x - avg
            delta_n = delta / n
            avg += delta_n
            m2 += delta * (delta - delta_n)
        return Moments(n, avg, m2)

    def update_fast(self, values: Floats) -> Moments:
        """The chunk's moments by numpy, merged in like a partition."""
        if not len(values):
            return self
        avg = float(np.mean(values))
        m2 = float(np.sum(np.square(values - avg)))
        return self.merge(Moments(float(len(values)), avg, m2))

    def merge(self, other: Moments) -> Moments:
        """Spark's `CentralMomentAgg` merge expressions (Chan et al.)."""
        n = self.n + other.n
        delta = other.avg - self.avg
        delta_n = 0.0 if n == 0.0 else delta / n
        avg = self.avg + delta_n * other.n
        m2 = self.m2 + other.m2 + delta * delta_n * self.n * other.n
        return Moments(n, avg, m2)

    @property
    def std_dev(self) -> float:
        """Population standard deviation (Deequ's `StandardDeviationState.metricValue`)."""
        return math.sqrt(self.m2 / self.n) if self.n else 0.0


@dataclass
class NumericState:
    """Statistics over the values of a column that parse as numbers."""

    count: int = 0
    total: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    negatives: int = 0
    moments: Moments = field(default_factory=Moments)
    sketch: KllSketch = field(default_factory=KllSketch.zero)

    def update(self, values: Floats, *, exact: bool) -> None:
        """Fold in values in input order (NaN marks values Spark's cast turns into null)."""
        if not len(values):
            return
        low, high = float(values.min()), float(values.max())  # NaN if any value is NaN
        if math.isnan(low) or math.isnan(high):
            values = values[~np.isnan(values)]
            if not len(values):
                return
            low, high = float(values.min()), float(values.max())
        self.count += len(values)
        if self.total == 0.0:
            # ((0.0 + v0) + v1) + ... is the running sum of the values themselves, but for
            # the sign of a zero: adding 0.0 turns -0.0 into 0.0, as starting at 0.0 does.
            self.total = float(np.cumsum(values)[-1]) + 0.0
        else:
            self.total = float(np.cumsum(np.concatenate(([self.total], values)))[-1])
        self.minimum = min(self.minimum, low)
        self.maximum = max(self.maximum, high)
        self.negatives += int(np.count_nonzero(values < 0))
        if exact:
            self.moments = self.moments.update_exact(values)
        else:
            self.moments = self.moments.update_fast(values)
        self.sketch.update(values)

    def merge(self, other: NumericState) -> NumericState:
        """Combine two partitions, self first."""
        return NumericState(
            count=self.count + other.count,
            total=self.total + other.total,
            minimum=min(self.minimum, other.minimum),
            maximum=max(self.maximum, other.maximum),
            negatives=self.negatives + other.negatives,
            moments=self.moments.merge(other.moments),
            sketch=self.sketch.merge(other.sketch),
        )

    @property
    def mean(self) -> float:
        """`sum / count`, as Deequ's `Mean`."""
        return self.total / self.count if self.count else 0.0
