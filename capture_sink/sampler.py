"""Which invocations are captured: an independent draw per invocation (seedable)."""

from __future__ import annotations

import random
from typing import Protocol


class Sampler(Protocol):
    """Decides, per invocation, whether it is captured."""

    def should_capture(self) -> bool:
        """True when this invocation is to be captured."""
        ...


class PercentageSampler:
    """Each invocation is captured with probability percentage/100, independently.

    0 never captures and 100 always does (random() is in [0, 1)). With a seed the sequence
    of decisions is reproducible, which is what tests need.
    """

    def __init__(self, percentage: float, seed: int | None = None) -> None:
        if not 0 <= percentage <= 100:
            raise ValueError(f"sampling percentage {percentage} is outside 0..100")
        self.percentage = percentage
        self._random = random.Random(seed)

    def should_capture(self) -> bool:
        """One Bernoulli draw."""
        return self._random.random() * 100 < self.percentage


class NeverSampler:
    """Captures nothing (EnableCapture false)."""

    def should_capture(self) -> bool:
        """Always False."""
        return False
