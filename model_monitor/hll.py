"""A vectorised HyperLogLog over doubles, for the numeric-looking values of string columns.

Apache DataSketches counts the distinct strings of a column, but its Python binding takes one
value per call (a few hundred nanoseconds each), which dominates the analysis of wide numeric
data: every column must be counted, because any column may turn out to be a String column at
its last row. Numeric-looking strings are therefore counted here instead, by their parsed
value, with numpy: a splitmix64 hash of the double's bits, 2**12 registers, and Ertl's
improved estimator ("New cardinality estimation algorithms for HyperLogLog sketches", 2017),
which needs no bias tables. Spellings of the same number ("1.0", "1.00") count once.
Numbers and other strings are disjoint, so a column's distinct count is the sum of the two.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

PRECISION = 12
_REGISTERS = 1 << PRECISION
_Q = 64 - PRECISION
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _splitmix64(z: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """splitmix64's finaliser of `z + golden gamma`, in place in `z` (returned). Each step
    writes into one scratch array instead of a new one: fresh arrays of a column's size cost
    more in page faults than the arithmetic."""
    scratch = np.empty_like(z)
    with np.errstate(over="ignore"):
        z += np.uint64(0x9E3779B97F4A7C15)
        for shift, factor in ((30, _M1), (27, _M2), (31, None)):
            np.right_shift(z, np.uint64(shift), out=scratch)
            z ^= scratch
            if factor is not None:
                z *= factor
    return z


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        previous = z
        z += x * y
        y += y
        if z == previous:
            return z


def _tau(x: float) -> float:
    if x in (0.0, 1.0):
        return 0.0
    y, z = 1.0, 1.0 - x
    while True:
        x = math.sqrt(x)
        previous = z
        y *= 0.5
        z -= (1.0 - x) ** 2 * y
        if z == previous:
            return z / 3.0


@dataclass
class NumberSketch:
    """HyperLogLog registers over double values; merge is a register-wise maximum."""

    registers: npt.NDArray[np.uint8] = field(
        default_factory=lambda: np.zeros(_REGISTERS, dtype=np.uint8)
    )

    def update(self, values: npt.NDArray[np.float64]) -> None:
        """Add values (NaN excluded by the caller); 0.0 and -0.0 count as one."""
        if not len(values):
            return
        hashed = _splitmix64((values + 0.0).view(np.uint64))  # + 0.0 folds -0.0 into 0.0
        index = (hashed >> np.uint64(_Q)).astype(np.intp)
        hashed &= np.uint64((1 << _Q) - 1)
        # rank = position of the leftmost 1 bit in the remaining q bits (q + 1 when all zero).
        # q <= 53, so the conversion to a double is exact and its biased exponent is
        # 1022 + the bit length (0 for zero, which the maximum turns into bit length 0).
        exponent = hashed.astype(np.float64).view(np.uint64)
        exponent >>= np.uint64(52)
        np.maximum(exponent, np.uint64(1022), out=exponent)
        rank = (np.uint64(_Q + 1 + 1022) - exponent).astype(np.uint8)
        np.maximum.at(self.registers, index, rank)

    def merge(self, other: NumberSketch) -> NumberSketch:
        """The sketch of both inputs."""
        return NumberSketch(np.maximum(self.registers, other.registers))

    def estimate(self) -> float:
        """Ertl's improved raw estimate of the number of distinct values."""
        counts = np.bincount(self.registers, minlength=_Q + 2).astype(np.float64)
        m = float(_REGISTERS)
        z = m * _tau(1.0 - counts[_Q + 1] / m)
        for k in range(_Q, 0, -1):
            z = 0.5 * (z + counts[k])
        z += m * _sigma(counts[0] / m)
        return m * m / (2.0 * math.log(2.0)) / z
