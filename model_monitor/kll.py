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

Instead of one Python call per value, updates and merges first work out Deequ's schedule from
the item counts alone (which level compacts, and how many items it sorts), then run it on the
data level by level: a level's compactions take consecutive runs of the items it ever holds,
so each level costs one pass, and the buffers come out as feeding the values one by one does.

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

    def offsets(self, count: int) -> list[int]:
        """The offsets of this compactor's next `count` compactions, advancing its count."""
        out = []
        for _ in range(count):
            if self.compactions % 2 == 1:
                self.offset = 1 - self.offset
            out.append(self.offset)
            self.compactions += 1
        return out


def _compacted(block: Floats, evens: list[int], offsets: list[int]) -> Floats:
    """The outputs of consecutive compactions of `block`, cut in runs of `evens` items, in order
    (each run sorted, every second item taken from its offset)."""
    zeros = block == 0
    negative = bool(zeros.any()) and bool(np.signbit(block[zeros]).any())
    order = java_sorted if negative else np.sort  # numpy's sort may flip the sign of zeros
    outputs, start = [], 0
    for even, offset in zip(evens, offsets, strict=True):
        outputs.append(order(block[start : start + even])[offset::2])
        start += even
    return outputs[0] if len(outputs) == 1 else np.concatenate(outputs)


@dataclass
class KllSketch:
    """A Deequ `QuantileNonSample[Double]` with the min/max its Spark aggregate tracks.

    Updates and merges are worked out in two steps. First the compaction schedule from the
    item counts alone, exactly as Deequ's loop would run it: which level compacts, after how
    many items, and how many items it sorts (`_schedule`). Then the data (`_run`): the items a
    level ever holds arrive in one order (what it had, then each output of the level below),
    so its compactions take consecutive runs of that sequence, handled level by level. The
    buffers come out element for element as one update per value gives.
    """

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

    def _schedule(self, sizes: list[int], feed: int) -> list[list[int]]:
        """Per level, the item counts its compactions sort, in order; `sizes` (the item count
        per level) end as Deequ leaves them. `feed` items are updated one by one (condensing
        once whenever the count exceeds the capacity); with `feed` 0, as a merge condenses
        (while the count reaches the capacity)."""
        caps = [capacity(h, self.k, self.c) for h in range(len(sizes))]
        total, count = sum(caps), sum(sizes)
        plan: list[list[int]] = [[] for _ in sizes]

        def condense() -> None:
            nonlocal total, count
            for height, size in enumerate(sizes):
                if size >= caps[height]:
                    if height + 1 >= len(sizes):
                        sizes.append(0)
                        caps.append(capacity(height + 1, self.k, self.c))
                        plan.append([])
                        total += caps[-1]
                    even = size - size % 2
                    plan[height].append(even)
                    sizes[height] = size - even
                    sizes[height + 1] += even // 2
                    count -= even // 2
                    return

        if feed:
            while feed:
                take = min(total - count + 1, feed)  # Deequ condenses once size > capacity
                sizes[0] += take
                count += take
                feed -= take
                if count > total:
                    condense()
        else:
            while count >= total:
                condense()
        return plan

    def _run(self, held: list[list[Floats]], feed: Floats) -> None:
        """Set this sketch's compactors from the items each level holds (`held`) and the
        values fed to level 0 in order, condensing as Deequ does."""
        sizes = [sum(len(part) for part in parts) for parts in held]
        plan = self._schedule(sizes, len(feed))
        while len(self.compactors) < len(plan):
            self._expand()
        arriving = [feed] if len(feed) else []
        for height, compactor in enumerate(self.compactors):
            parts = [*held[height], *arriving] if height < len(held) else arriving
            stream = parts[0] if len(parts) == 1 else np.concatenate(parts) if parts else _EMPTY
            evens = plan[height] if height < len(plan) else []
            used = sum(evens)
            arriving = (
                [_compacted(stream[:used], evens, compactor.offsets(len(evens)))] if evens else []
            )
            rest = stream[used:].copy()  # a few thousand items, never shared with an input
            compactor.items = [rest]
            compactor.size = len(rest)
        self.size = sum(c.size for c in self.compactors)

    def update(self, values: Floats) -> None:
        """Feed values in order, exactly as that many single `update` calls would."""
        if not len(values):
            return
        self.minimum = min(self.minimum, float(values.min()))
        self.maximum = max(self.maximum, float(values.max()))
        self._run([[c.buffer()] for c in self.compactors], values)

    def merge(self, other: KllSketch) -> KllSketch:
        """`this.merge(that)` in Deequ, without changing either input."""
        merged = KllSketch(self.k, self.c)
        for mine in self.compactors:
            merged.compactors.append(_Compactor([], 0, mine.compactions, mine.offset))
        while len(merged.compactors) < len(other.compactors):
            merged.compactors.append(_Compactor())
        merged.capacity = sum(capacity(h, self.k, self.c) for h in range(len(merged.compactors)))
        held: list[list[Floats]] = [[] for _ in merged.compactors]
        for sketch in (self, other):
            for height, compactor in enumerate(sketch.compactors):
                held[height].append(compactor.buffer())
        merged._run(held, _EMPTY)
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
