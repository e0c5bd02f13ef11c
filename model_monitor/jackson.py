"""JSON exactly as the analyzer's JVM writes it: Jackson's default pretty printer, Java doubles.

The real files put a space on both sides of the colon, indent objects by two spaces, keep
arrays on one line (`[ a, b ]`, so arrays of objects read `[ {` ... `}, {` ... `} ]`), write
empty containers as `{ }` / `[ ]`, and print doubles with `java.lang.Double.toString`. Python
`int` is written as a JSON integer and `float` as a Java double, so callers choose the typing
(`item_count` is an int, `count` in a KLL bucket a double) by the Python type they store.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from smlocal.capture_sink.aws_shapes.java_text import java_double

_SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f"}
_SHORT_ESCAPES["\r"] = "\\r"


def _string(text: str) -> str:
    """A JSON string the way Jackson escapes it: quotes, backslash and control characters."""
    if text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    out = []
    for char in text:
        if char in _SHORT_ESCAPES:
            out.append(_SHORT_ESCAPES[char])
        elif ord(char) < 0x20:
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)  # Jackson writes everything else, non-ASCII included, as is
    return '"' + "".join(out) + '"'


_LITERALS = {None: "null", True: "true", False: "false"}


def _scalar(value: Any) -> str:
    if type(value) is float:
        if 1e-3 <= abs(value) < 1e7:
            return repr(value)  # the common case, see java_double
        text = java_double(value)
        # Jackson's QUOTE_NON_NUMERIC_NUMBERS (on by default) keeps the output valid JSON.
        return text if math.isfinite(value) else f'"{text}"'
    if value is None or isinstance(value, bool):
        return _LITERALS[value]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _doubles(values: Sequence[float]) -> list[str]:
    """Many doubles at once: repr where Java prints the same, java_double for the rest."""
    texts = list(map(repr, values))
    magnitudes = np.abs(np.asarray(values, dtype=np.float64))
    plain = ((magnitudes >= 1e-3) & (magnitudes < 1e7)) | (magnitudes == 0.0)
    for index in np.flatnonzero(~plain).tolist():
        texts[index] = _scalar(values[index])
    return texts


def _write(value: Any, level: int, out: list[str]) -> None:
    if isinstance(value, Mapping):
        if not value:
            out.append("{ }")
            return
        inner = "  " * (level + 1)
        out.append("{\n")
        for position, (key, item) in enumerate(value.items()):
            if position:
                out.append(",\n")
            out.append(f"{inner}{_string(key)} : ")
            _write(item, level + 1, out)
        out.append("\n" + "  " * level + "}")
    elif isinstance(value, Sequence) and not isinstance(value, str):
        if not value:
            out.append("[ ]")
            return
        if all(type(item) is float for item in value):  # sketch data: long runs of doubles
            out.append("[ " + ", ".join(_doubles(value)) + " ]")
            return
        out.append("[ ")
        for position, item in enumerate(value):
            if position:
                out.append(", ")
            _write(item, level, out)
        out.append(" ]")
    else:
        out.append(_scalar(value))


def dumps(value: Any) -> str:
    """Serialise like `ObjectMapper.writerWithDefaultPrettyPrinter()` (no newline at the end)."""
    out: list[str] = []
    _write(value, 0, out)
    return "".join(out)
