"""A generated CSV of varied columns for the baseline's byte-identity tests.

Mixed types, missing values and the values the type rules are picky about (a leading `+`,
spaces, `NaN`, `Infinity`, exponents, `1.`, `.5`, very long digit strings, empty strings,
booleans), some only in the first rows, so that some chunks of a column hold them and others
do not. Deterministic: Python's own `random` with a fixed seed, formatted by Python.
"""

from __future__ import annotations

import random
from pathlib import Path

HEADER = (
    "label",
    "count",
    "price",
    "exponents",
    "sparse",
    "flag",
    "color",
    "odd",
    "edgy",
    "late",
    "long_digits",
    "bool_and_number",
    "blank",
)

# Values Arrow's float cast accepts but Deequ's patterns do not (or only some), and values
# the patterns accept that the cast does not: all end up in the String column `odd`.
ODD = (
    "NaN",
    "nan",
    "Infinity",
    "-Infinity",
    "inf",
    "1.",
    ".5",
    "-.5",
    "+.5",
    "1.e5",
    ".5e3",
    "1e999",
    "-1e999",
    "1e",
    "٣",
    "12 ",
    "1,5",
    "True",
)
# Values Deequ's patterns take as numbers, some of which Arrow's cast refuses (the spaces).
EDGY = (
    "+12",
    "- 5",
    " 7",
    "+ 3",
    "-0",
    "007",
    "123456789012345678901234567890",
    "+1.5",
    "1E5",
    "-2.5e-3",
    "4.0E+2",
    "0.0",
    "-0.0",
)
EDGY_CASTABLE = tuple(v for v in EDGY if " " not in v)


def _row(rng: random.Random, i: int, rows: int) -> list[str]:
    early = i < rows // 3
    count = str(rng.randrange(-50, 1000))
    if i % 500 == 7:
        count = "+" + str(rng.randrange(0, 1000))
    exponents = rng.choice(
        (f"{rng.uniform(-5, 5):.3e}", f"{rng.uniform(0, 9):.2E}", f"{rng.random():.6f}", "7e1")
    )
    pool = EDGY if early else EDGY_CASTABLE
    return [
        str(rng.randrange(2)),
        count,
        f"{rng.gauss(50, 10):.4f}",
        exponents,
        f"{rng.random():.3f}" if i % 9 == 0 else "",
        "" if i % 13 == 0 else rng.choice(("true", "false")),
        rng.choice(("red", "green", "blue")),
        ODD[i // 37 % len(ODD)] if early and i % 37 == 0 else f"{rng.uniform(-1, 1):.5f}",
        pool[i // 101 % len(pool)] if i % 101 == 0 else str(rng.randrange(100)),
        "n/a" if i >= rows - 50 else str(rng.randrange(10**6)),
        str(rng.randrange(10**24, 10**25)),
        rng.choice(("true", "1", "0")) if i % 1000 == 0 else rng.choice(("true", "false")),
        " " if i % 250 == 0 else "",
    ]


def write_varied_csv(path: Path, rows: int, seed: int = 18) -> Path:
    """`rows` rows of the columns in `HEADER`, with a header line."""
    rng = random.Random(seed)
    lines = [",".join(HEADER)]
    lines += [",".join(_row(rng, i, rows)) for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
