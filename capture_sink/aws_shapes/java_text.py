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
    """Java's `Double.toString`: `1.0`, `0.5`, `1.0E7`, `1.0E-4`, `NaN`, `Infinity`."""
    if math.isnan(value):
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(value)  # Python's shortest repr is Java's in this range
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    mantissa = "".join(map(str, digits))
    power = exponent + len(mantissa) - 1
    fraction = mantissa[1:] or "0"
    return f"{'-' if sign else ''}{mantissa[0]}.{fraction}E{power}"
