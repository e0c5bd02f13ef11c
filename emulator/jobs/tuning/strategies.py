"""How a tuning job picks the next training job's hyperparameters: one point of the unit
cube (one coordinate per range, `ranges.Range.value` maps it to a value).

- Random: each coordinate uniform in [0, 1].
- Bayesian: random for the first `INITIAL_POINTS` results; then a Gaussian process
  (scikit-learn's, Matern 5/2 kernel) is fitted to the points whose training jobs reported
  the objective, and of `CANDIDATES` random points the one with the highest expected
  improvement is chosen. SageMaker's own Bayesian optimizer is not public; this is the
  textbook method it describes, small enough to run beside the jobs.
- Grid: every combination of the categorical ranges' values, in order (SageMaker's Grid
  search takes categorical ranges only).
- Hyperband: drawn as Random. SageMaker's Hyperband stops low-fidelity runs early, which
  needs the training script's intermediate metrics; smlocal runs every job to its end.

Every strategy is seeded (RandomSeed, or a number derived from the tuning job's name), so
the same tuning job asks for the same points when the results arrive in the same order.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from smlocal.emulator.jobs.tuning.ranges import Range

INITIAL_POINTS = 3
CANDIDATES = 256


@dataclass(frozen=True)
class Observation:
    """A point a training job was given and its objective (None: none reported yet)."""

    point: tuple[float, ...]
    objective: float | None


def seed_of(name: str, random_seed: int | None) -> int:
    """RandomSeed when given, else a seed derived from the tuning job's name."""
    if random_seed is not None:
        return random_seed
    return int.from_bytes(hashlib.sha256(name.lower().encode()).digest()[:8], "big")


def grid(ranges: Sequence[Range]) -> list[tuple[float, ...]]:
    """Every combination of the (categorical) ranges' values, as points."""
    axes = [[(i + 0.5) / len(r.values) for i in range(len(r.values))] for r in ranges]
    return [tuple(point) for point in itertools.product(*axes)]


class Sampler:
    """Proposes the points of one tuning job's training jobs."""

    def __init__(self, strategy: str, ranges: Sequence[Range], seed: int, maximize: bool) -> None:
        self.strategy = strategy
        self.ranges = list(ranges)
        self.maximize = maximize
        self.rng = random.Random(seed)
        self.grid = grid(self.ranges) if strategy == "Grid" else []

    def propose(self, index: int, history: Sequence[Observation]) -> tuple[float, ...]:
        """The point of the tuning job's training job number `index` (from 0)."""
        if self.strategy == "Grid":
            return self.grid[index]
        scored = [o for o in history if o.objective is not None and math.isfinite(o.objective)]
        if self.strategy == "Bayesian" and len(scored) >= INITIAL_POINTS and self.ranges:
            return self._expected_improvement(scored)
        return self._uniform()

    def _uniform(self) -> tuple[float, ...]:
        return tuple(self.rng.random() for _ in self.ranges)

    def _expected_improvement(self, scored: Sequence[Observation]) -> tuple[float, ...]:
        import numpy as np
        from scipy.stats import norm
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import Matern

        sign = 1.0 if self.maximize else -1.0
        x = np.array([o.point for o in scored])
        y = np.array([sign * float(o.objective or 0.0) for o in scored])
        model = GaussianProcessRegressor(kernel=Matern(nu=2.5), alpha=1e-6, normalize_y=True,
                                         random_state=self.rng.randrange(2**31))  # fmt: skip
        with warnings.catch_warnings():  # few points: the optimizer may hit its bounds
            warnings.simplefilter("ignore")
            model.fit(x, y)
        candidates = np.array([self._uniform() for _ in range(CANDIDATES)])
        mean, std = model.predict(candidates, return_std=True)
        best = y.max()
        std = np.maximum(std, 1e-12)
        z = (mean - best) / std
        improvement = (mean - best) * norm.cdf(z) + std * norm.pdf(z)
        return tuple(float(v) for v in candidates[int(np.argmax(improvement))])
