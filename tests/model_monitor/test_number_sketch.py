"""The vectorised HyperLogLog of numbers fills its registers as the algorithm does, written
out value by value in plain Python (splitmix64 of the double's bits, 2**12 registers)."""

from __future__ import annotations

import struct

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from smlocal.model_monitor.hll import PRECISION, NumberSketch

MASK = (1 << 64) - 1
Q = 64 - PRECISION


def _splitmix64(bits: int) -> int:
    z = (bits + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def _registers(values: list[float]) -> list[int]:
    registers = [0] * (1 << PRECISION)
    for value in values:
        (bits,) = struct.unpack("<Q", struct.pack("<d", value + 0.0))
        hashed = _splitmix64(bits)
        index, rest = hashed >> Q, hashed & ((1 << Q) - 1)
        registers[index] = max(registers[index], Q + 1 - rest.bit_length())
    return registers


def _sketched(values: list[float]) -> list[int]:
    sketch = NumberSketch()
    sketch.update(np.array(values, dtype=np.float64))
    return [int(r) for r in sketch.registers]


def test_registers_of_many_values_match_the_algorithm() -> None:
    rng = np.random.default_rng(7)
    values = [
        *np.round(rng.normal(50, 10, 20_000), 4).tolist(),
        *rng.integers(-1000, 1000, 5_000).astype(float).tolist(),
        *(rng.standard_normal(5_000) * 1e300).tolist(),
        0.0,
        -0.0,
        5e-324,
        -5e-324,
        1.7976931348623157e308,
        float("inf"),
        float("-inf"),
    ]
    assert _sketched(values) == _registers(values)


@given(st.lists(st.floats(allow_nan=False), min_size=1, max_size=200))
def test_registers_of_any_doubles_match_the_algorithm(values: list[float]) -> None:
    assert _sketched(values) == _registers(values)
