"""Deequ 2.0.2's data types: per-value classification by regular expression, and the column type.

Every non-null value is Fractional, Integral, Boolean or String by the first of these
(full-match, ASCII digits) that it matches; Deequ 1.x's looser patterns are not used:

* Fractional `^(-|\\+)? ?\\d+((\\.\\d+)|((?:\\.\\d+)?[Ee][-+]?\\d+))$`
* Integral   `^(-|\\+)? ?\\d+$`
* Boolean    `^(true|false)$`

Most chunks of numeric data are classified without the expressions: Arrow casts the whole
chunk to doubles (its cast is all or nothing), and a value that casts to a finite double is
Integral or Fractional by the patterns exactly when each `.` in it has a digit on both sides:
the cast accepts `[+-]?(D+(.D*)?|.D+)([eE][+-]?D+)?` and the words `nan`, `inf`, `infinity`,
so the only finite values it takes that the patterns refuse are `1.`, `.5`, `1.e5` and their
signed forms. Without `.`, `e` or `E` such a value is Integral, otherwise Fractional. The few
values this does not settle (non-finite ones, a `.` without a digit beside it) go through the
expressions, and so does every value of a chunk the cast refuses (spaces, words, empty
strings). A chunk whose bytes hold no `.` (or no `e`/`E`) skips looking for it value by
value, which settles integer columns in one pass; the patterns recognise plain digit strings
by a cheaper Arrow kernel first. RE2 (through Arrow) runs the patterns. The doubles of the
cast are kept for the numeric statistics: they are what `parse_numbers` gives for each value.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from smlocal.model_monitor import arrays
from smlocal.model_monitor.arrays import Floats, Mask, floats, indices, int32s, picked

FRACTIONAL_PATTERN = r"^(-|\+)? ?\d+((\.\d+)|((?:\.\d+)?[Ee][-+]?\d+))$"
INTEGRAL_PATTERN = r"^(-|\+)? ?\d+$"
BOOLEAN_PATTERN = r"^(true|false)$"


class DataType(StrEnum):
    """The `inferred_type` values (Deequ's `DataTypeInstances`)."""

    UNKNOWN = "Unknown"
    FRACTIONAL = "Fractional"
    INTEGRAL = "Integral"
    BOOLEAN = "Boolean"
    STRING = "String"


@dataclass
class TypeCounts:
    """How many non-null values of each kind a column held (mergeable by addition)."""

    fractional: int = 0
    integral: int = 0
    boolean: int = 0
    string: int = 0

    def merge(self, other: TypeCounts) -> TypeCounts:
        """The counts of both."""
        return TypeCounts(
            self.fractional + other.fractional,
            self.integral + other.integral,
            self.boolean + other.boolean,
            self.string + other.string,
        )

    @property
    def total(self) -> int:
        """Non-null values counted."""
        return self.fractional + self.integral + self.boolean + self.string

    def inferred(self) -> DataType:
        """Deequ's `DataTypeHistogram.determineType`."""
        if self.total == 0:
            return DataType.UNKNOWN
        numbers = self.integral + self.fractional
        if self.string or (self.boolean and numbers):
            return DataType.STRING
        if self.boolean:
            return DataType.BOOLEAN
        return DataType.FRACTIONAL if self.fractional else DataType.INTEGRAL

    def matching(self, expected: str) -> int | None:
        """Values that satisfy an expected `inferred_type`, or None when any value would.

        Integral accepts integral values only; Fractional accepts any number (integral values
        are valid fractional data); String and Unknown accept everything.
        """
        if expected == DataType.INTEGRAL:
            return self.integral
        if expected == DataType.FRACTIONAL:
            return self.integral + self.fractional
        if expected == DataType.BOOLEAN:
            return self.boolean
        return None


@dataclass(frozen=True)
class Classified:
    """The kinds of one array of non-null strings: counts plus masks to pick numbers out."""

    counts: TypeCounts
    numeric: Mask  # Integral or Fractional
    numbers: Floats | None = None  # `numbers_where(values, numeric)`, when already known


def as_mask(flags: pa.Array) -> Mask:
    """An Arrow boolean array as numpy booleans (null as False)."""
    return arrays.mask(flags)


def _matches(values: pa.Array, pattern: str) -> Mask:
    return as_mask(pc.match_substring_regex(values, pattern))


def by_patterns(values: pa.Array) -> Classified:
    """Classify non-null string values by the patterns, value by value."""
    digits = as_mask(pc.ascii_is_decimal(values))
    integral = digits.copy()
    fractional = np.zeros(len(values), dtype=bool)
    boolean = np.zeros(len(values), dtype=bool)
    # The patterns are disjoint, so each one only needs to look at what the others left over.
    rest = np.flatnonzero(~digits)
    for mask, pattern in (
        (fractional, FRACTIONAL_PATTERN),
        (integral, INTEGRAL_PATTERN),
        (boolean, BOOLEAN_PATTERN),
    ):
        if not len(rest):
            break
        matched = _matches(values.take(indices(rest)), pattern)
        mask[rest[matched]] = True
        rest = rest[~matched]
    counts = TypeCounts(
        fractional=int(fractional.sum()),
        integral=int(integral.sum()),
        boolean=int(boolean.sum()),
        string=len(rest),
    )
    return Classified(counts, integral | fractional)


def _is_digit(codes: npt.NDArray[np.uint8]) -> Mask:
    return (codes - np.uint8(ord("0"))) < 10  # unsigned: below "0" wraps round to large


def _found(values: pa.Array, text: str) -> npt.NDArray[np.int32]:
    """Where `text` first starts in each value (-1 where it does not occur)."""
    return int32s(pc.find_substring(values, text))


def _shapes(values: pa.Array, finite: Mask) -> tuple[Mask, Mask]:
    """Which of these values (all taken by the cast) the patterns take as Integral, and which
    as Fractional; neither means not settled here (`1.`, `.5`, `NaN`, `1e999`, ...).

    The cast takes non-empty ASCII values with at most one `.`, so bytes are characters. One
    look at the whole data buffer tells whether any value holds a `.` or an `e`/`E` at all
    (integer columns hold neither); only then are they looked for value by value, and the
    characters beside each `.` are read straight from the buffer.
    """
    _, offsets_buffer, data_buffer = values.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[values.offset :][: len(values) + 1]
    first, last = int(offsets[0]), int(offsets[-1])
    text = data_buffer.slice(first, last - first).to_pybytes()  # bytes.find is a memchr
    starts, ends = offsets[:-1] - first, offsets[1:] - first
    nothing = np.zeros(len(values), dtype=bool)
    dotted, around = nothing, nothing
    if text.find(b".") >= 0:
        data = np.frombuffer(text, dtype=np.uint8)
        dot = _found(values, ".")
        dotted = dot >= 0
        at = starts + dot  # the dot's byte (meaningless without a dot)
        inside = (dot > 0) & (at + 1 < ends)
        before = _is_digit(np.take(data, at - 1, mode="clip"))
        after = _is_digit(np.take(data, at + 1, mode="clip"))
        around = inside & before & after
    exponent = nothing
    if text.find(b"e") >= 0 or text.find(b"E") >= 0:
        exponent = (_found(values, "e") >= 0) | (_found(values, "E") >= 0)
    settled = finite & (~dotted | around)
    integral = settled & ~dotted & ~exponent
    return integral, settled & ~integral


def _by_cast(values: pa.Array) -> Classified | None:
    """Classify by Arrow's float cast when it takes the whole array (None when it does not)."""
    if not len(values) or values.type != pa.string() or values.null_count:
        return None
    try:
        cast = pc.cast(values, pa.float64())
    except pa.ArrowInvalid:
        return None
    numbers = floats(cast)
    integral, fractional = _shapes(values, np.isfinite(numbers))
    numeric = integral | fractional
    counts = TypeCounts(
        fractional=int(np.count_nonzero(fractional)), integral=int(np.count_nonzero(integral))
    )
    if not numeric.all():
        unsettled = np.flatnonzero(~numeric)
        left = by_patterns(values.take(indices(unsettled)))
        numeric[unsettled] = left.numeric
        counts = counts.merge(left.counts)
        numbers = np.where(numeric, numbers, np.nan)
    # The cast's doubles are what parse_numbers gives each value; NaN where not numeric.
    return Classified(counts, numeric, numbers)


def classify(values: pa.Array) -> Classified:
    """Classify non-null string values (as `by_patterns` does, faster for numeric chunks)."""
    return _by_cast(values) or by_patterns(values)


def parse_numbers(values: pa.Array) -> Floats:
    """Doubles of values classified numeric, NaN where Spark's cast yields null.

    Spark trims surrounding whitespace, so `" 5"` is 5.0, but `"- 5"` (a sign, then the one
    space the patterns allow) does not parse and becomes null; such values count towards the
    type but not towards the numeric statistics.
    """
    try:
        cast = pc.cast(values, pa.float64())
    except pa.ArrowInvalid:
        trimmed = pc.utf8_trim_whitespace(values)
        spaced = pc.match_substring(trimmed, " ")
        trimmed = pc.if_else(spaced, pa.nulls(len(trimmed), pa.string()), trimmed)
        cast = pc.cast(trimmed, pa.float64())
    return floats(cast)


def numbers_where(values: pa.Array, numeric: Mask) -> Floats:
    """Every value's double where `numeric` (and it parses), NaN elsewhere."""
    if numeric.all():
        return parse_numbers(values)
    parsed = np.full(len(values), np.nan)
    if numeric.any():
        parsed[numeric] = parse_numbers(picked(values, numeric))
    return parsed


def numbers_of(values: pa.Array, classified: Classified) -> Floats:
    """Every value's double where `classified` found a number, NaN elsewhere."""
    if classified.numbers is not None:
        return classified.numbers
    return numbers_where(values, classified.numeric)
