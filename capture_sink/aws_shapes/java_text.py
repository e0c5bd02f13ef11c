"""Values as AWS's Java services print them inside an error message.

A quoted value longer than QUOTE_LIMIT characters is cut (`quoted`), so a 20 MB value does
not come back as a 20 MB message; values that fit are quoted exactly as AWS quotes them.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

# The most characters of a value an error message quotes. Values that fit are quoted whole,
# as AWS quotes them: names, ARNs and URIs, and also the usual slightly-too-long values of
# the longest members (a map of environment values of 1,024 characters, hyperparameters of
# 2,500, printed whole); a 20 MB value is cut to this.
QUOTE_LIMIT = 4096


def quoted(text: str) -> str:
    """A value in quotes as AWS's messages show it, cut after QUOTE_LIMIT characters with an
    ellipsis and its length: `'aaaa…' (20971520 characters)`."""
    if len(text) <= QUOTE_LIMIT:
        return f"'{text}'"
    return f"'{text[:QUOTE_LIMIT]}…' ({len(text)} characters)"


def java_string(value: Any, type_name: str = "") -> str:
    """How Java's `String.valueOf` prints a deserialized value inside an AWS message."""
    if isinstance(value, list | tuple):
        return "[" + ", ".join(java_string(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={java_string(v)}" for k, v in value.items()) + "}"
    return _java_scalar(value, type_name)


def _java_scalar(value: Any, type_name: str) -> str:
    if value is None or isinstance(value, bool):
        return str(value).lower() if value is not None else "null"
    if isinstance(value, float) or (isinstance(value, int) and type_name in ("float", "double")):
        return java_double(float(value))
    if isinstance(value, bytes | bytearray):
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%a %b %d %H:%M:%S UTC %Y")
    return str(value)


def java_double(value: float) -> str:
    """Java's `Double.toString` (in AWS's messages and the analyzer's JSON): shortest
    round-trip digits, plain between 1e-3 and 1e7: `1.0`, `0.5`, `1.0E7`, `1.0E-4`, `NaN`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0.0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    magnitude = abs(value)
    if 1e-3 <= magnitude < 1e7:
        # Python's repr is plain (with a ".0" for whole numbers) over this whole range.
        return repr(value)
    shortest = repr(magnitude)
    two_digits = f"{magnitude:.1e}"
    if len(Decimal(shortest).normalize().as_tuple().digits) == 1 and float(two_digits) == magnitude:
        # Java picks the decimal closest to the value among those of length 2 when one digit
        # would do (only ever differs for subnormals: 4.9E-324, not 5.0E-324).
        shortest = two_digits
    _, digits, exponent = Decimal(shortest).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    scientific = exponent + len(digits) - 1
    return f"{'-' if value < 0 else ''}{text[0]}.{text[1:] or '0'}E{scientific}"
