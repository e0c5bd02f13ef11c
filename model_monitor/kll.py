"""Deequ's deterministic KLL sketch (`QuantileNonSample`, `NonSampleCompactor`), vectorised.

The analyzer summarises every numeric column with this sketch and prints its compactor buffers
in `statistics.json`, so the buffers must come out element for element as Deequ builds them:

* compactor `h` holds items of weight `2**h` and has capacity `2 * (ceil(k * c**h / 2) + 1)`;
* after each single update, if the item count exceeds the total capacity, the lowest compactor
  at or above its capacity is compacted into the next one (added when missing);
* a compaction sorts the even-length prefix of the buffer, emits every second item starting at
  `offset`, and keeps the odd last item (unsorted). `offset` starts at 0 and flips before every
  second compaction (the random choice is commented out in Deequ), i.e. 0, 1, 1, 0, 0, 1, ...
* merging concatenates buffers level by level and condenses while count >= capacity.

Instead of one Python call per value, `update` appends whole runs of values to level 0 up to
the exact item at which Deequ would condense, condenses, and continues, so the result is the
same as feeding the values one by one.

`KllSketch.zero()` also tracks the minimum and maximum like Deequ's `StatefulKLLSketch`, whose
buffer starts at `Int.MaxValue` / `Int.MinValue` (as doubles); the bucket bounds use those, so a
column whose values are all above 2147483647 gets buckets starting at 2147483647.0, as Deequ's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]

SKETCH_SIZE = 2048
SHRINKING_FACTOR = 0.64
BUCKETS = 10
_INITIAL_MIN = float(2**31 - 1)
_INITIAL_MAX = float(-(2**31))
_EMPTY: Floats = np.empty(0, dtype=np.float64)


@cache  # asked for at every condensation, always of the same few heights
def capacity(height: int, k: int = SKETCH_SIZE, c: float = SHRINKING_FACTOR) -> int:
    """Deequ's compactor capacity at a height."""
    return 2 * (math.ceil(k * c**height / 2) + 1)


def java_sorted(values: Floats) -> Floats:
    """Sort like `java.lang.Double.compare`: as numpy, but -0.0 strictly before 0.0.

    The negative zeros are counted in the input: numpy's SIMD sorts (AVX2 here) may hand
    back 0.0 for -0.0, since their min/max steps do not keep the sign of equal zeros.
    """
    ordered = np.sort(values)
    low = int(np.searchsorted(ordered, 0.0, side="left"))
    high = int(np.searchsorted(ordered, 0.0, side="right"))
    if high > low:
        negative = int(np.count_nonzero(np.signbit(values[values == 0])))
        ordered[low : low + negative] = -0.0
        ordered[low + negative : high] = 0.0
    return ordered


@dataclass
class _Compactor:
    items: list[Floats] = field(default_factory=list)  # chunks, concatenated lazily
    size: int = 0
    compactions: int = 0
    offset: int = 0

    def buffer(self) -> Floats:
        if len(self.items) != 1:
            self.items = [np.concatenate(self.items) if self.items else _EMPTY]
        return self.items[0]

    def append(self, values: Floats) -> None:
        if len(values):
            self.items.append(values)
            self.size += len(values)

    def compact(self) -> Floats:
        buffer = self.buffer()
        even = self.size - self.size % 2
        if self.compactions % 2 == 1:
            self.offset = 1 - self.offset
        output = java_sorted(buffer[:even])[self.offset :: 2]
        self.items = [buffer[even:].copy()]
        self.size = len(self.items[0])
        self.compactions += 1
        return output


@dataclass
class KllSketch:
    """A Deequ `QuantileNonSample[Double]` with the min/max its Spark aggregate tracks."""

    k: int = SKETCH_SIZE
    c: float = SHRINKING_FACTOR
    compactors: list[_Compactor] = field(default_factory=list)
    size: int = 0
    capacity: int = 0
    minimum: float = _INITIAL_MIN
    maximum: float = _INITIAL_MAX

    @classmethod
    def zero(cls, k: int = SKETCH_SIZE, c: float = SHRINKING_FACTOR) -> KllSketch:
        """An empty sketch, as Deequ constructs it (one compactor)."""
        sketch = cls(k=k, c=c)
        sketch._expand()
        return sketch

    def _expand(self) -> None:
        self.compactors.append(_Compactor())
        self.capacity = sum(capacity(h, self.k, self.c) for h in range(len(self.compactors)))

    def _condense(self) -> None:
        for height, compactor in enumerate(self.compactors):
            if compactor.size >= capacity(height, self.k, self.c):
                if height + 1 >= len(self.compactors):
                    self._expand()
                self.compactors[height + 1].append(compactor.compact())
                self.size = sum(c.size for c in self.compactors)
                return

    def update(self, values: Floats) -> None:
        """Feed values in order, exactly as that many single `update` calls would."""
        if not len(values):
            return
        self.minimum = min(self.minimum, float(values.min()))
        self.maximum = max(self.maximum, float(values.max()))
        position = 0
        while position < len(values):
            # Deequ condenses right after the update that makes size exceed capacity.
            take = min(self.capacity - self.size + 1, len(values) - position)
            self.compactors[0].append(values[position : position + take])
            self.size += take
            position += take
            if self.size > self.capacity:
                self._condense()

    def merge(self, other: KllSketch) -> KllSketch:
        """`this.merge(that)` in Deequ, without changing either input."""
        merged = self.copy()
        while len(merged.compactors) < len(other.compactors):
            merged._expand()
        for mine, theirs in zip(merged.compactors, other.compactors, strict=False):
            mine.append(theirs.buffer().copy())
        merged.size = sum(c.size for c in merged.compactors)
        while merged.size >= merged.capacity:
            merged._condense()
        merged.minimum = min(self.minimum, other.minimum)
        merged.maximum = max(self.maximum, other.maximum)
        return merged

    def copy(self) -> KllSketch:
        """A deep copy."""
        compactors = [
            _Compactor([c.buffer().copy()], c.size, c.compactions, c.offset)
            for c in self.compactors
        ]
        return KllSketch(
            self.k, self.c, compactors, self.size, self.capacity, self.minimum, self.maximum
        )

    def levels(self) -> list[Floats]:
        """The compactor buffers, level 0 first (Deequ's `getCompactorItems`)."""
        return [c.buffer() for c in self.compactors]

    def ranks(self) -> SketchRanks:
        """Rank queries over the current items."""
        return SketchRanks.from_levels(self.levels())

    def buckets(self, count: int = BUCKETS) -> list[tuple[float, float, float]]:
        """Deequ's `KLLSketch` buckets: (lower, upper, weight) over [minimum, maximum]."""
        ranks = self.ranks()
        start, end = self.minimum, self.maximum
        out = []
        for i in range(count):
            low = start + (end - start) * i / float(count)
            high = start + (end - start) * (i + 1) / float(count)
            top = ranks.rank(high) if i == count - 1 else ranks.rank_exclusive(high)
            out.append((low, high, float(top - ranks.rank_exclusive(low))))
        return out


@dataclass(frozen=True)
class SketchRanks:
    """Sorted sketch items with cumulative weights (level h weighs 2**h)."""

    items: Floats
    cumulative: npt.NDArray[np.int64]

    @classmethod
    def from_levels(cls, levels: list[Floats]) -> SketchRanks:
        """Build from compactor buffers, e.g. the `data` arrays of a `statistics.json` sketch."""
        if not levels:
            return cls(_EMPTY, np.zeros(0, dtype=np.int64))
        items = np.concatenate(levels)
        weights = np.concatenate(
            [np.full(len(level), 1 << h, dtype=np.int64) for h, level in enumerate(levels)]
        )
        order = np.argsort(items, kind="stable")
        return cls(items[order], np.cumsum(weights[order]))

    @property
    def total(self) -> int:
        """The summed weight, i.e. how many values the sketch summarises."""
        return int(self.cumulative[-1]) if len(self.cumulative) else 0

    def _weight_below(self, index: npt.NDArray[np.intp]) -> npt.NDArray[np.int64]:
        padded = np.concatenate([np.zeros(1, dtype=np.int64), self.cumulative])
        return padded[index]

    def rank(self, value: float) -> int:
        """Total weight of items <= value."""
        return int(self.ranks_at(np.array([value]))[0])

    def rank_exclusive(self, value: float) -> int:
        """Total weight of items < value."""
        index = np.searchsorted(self.items, np.array([value]), side="left")
        return int(self._weight_below(index)[0])

    def ranks_at(self, values: Floats) -> npt.NDArray[np.int64]:
        """Inclusive ranks of many values at once."""
        return self._weight_below(np.searchsorted(self.items, values, side="right"))
