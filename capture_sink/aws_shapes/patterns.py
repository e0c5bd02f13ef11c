"""Java regular expressions from the botocore models, translated to Python `re`.

AWS checks a `pattern` with Java's `Pattern.matcher(value).matches()`: the whole value must
match, `^`/`$` are redundant but allowed, and the character classes follow Java's defaults:
`\\d \\w \\s \\b` are ASCII, POSIX names such as `\\p{Print}` and `\\p{Alnum}` are ASCII,
`\\p{L}` and friends are Unicode general categories, `.` stops at any line terminator, and a
surrogate pair written as two `\\uXXXX` escapes is one supplementary code point.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable

Ranges = list[tuple[int, int]]


class UnsupportedPattern(ValueError):
    """The pattern uses a Java construct this translator does not know."""


_POSIX: dict[str, Ranges] = {
    "Lower": [(0x61, 0x7A)],
    "Upper": [(0x41, 0x5A)],
    "ASCII": [(0x00, 0x7F)],
    "Alpha": [(0x41, 0x5A), (0x61, 0x7A)],
    "Digit": [(0x30, 0x39)],
    "Alnum": [(0x30, 0x39), (0x41, 0x5A), (0x61, 0x7A)],
    "Punct": [(0x21, 0x2F), (0x3A, 0x40), (0x5B, 0x60), (0x7B, 0x7E)],
    "Graph": [(0x21, 0x7E)],
    "Print": [(0x20, 0x7E)],
    "Blank": [(0x09, 0x09), (0x20, 0x20)],
    "Cntrl": [(0x00, 0x1F), (0x7F, 0x7F)],
    "XDigit": [(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
    "Space": [(0x09, 0x0D), (0x20, 0x20)],
}
_LINE_TERMINATORS = r"\n\r\x85\u2028\u2029"
_DOT = f"[^{_LINE_TERMINATORS}]"
_SIMPLE_ESCAPES = {
    "A": r"\A",
    "z": r"\Z",
    "Z": rf"(?=[{_LINE_TERMINATORS}]?\Z)",
    "e": r"\x1b",
    "h": r"[ \t\xa0\u1680\u180e\u2000-\u200a\u202f\u205f\u3000]",
    "v": rf"[\x0b\x0c{_LINE_TERMINATORS}]",
    "R": rf"(?:\r\n|[\x0b\x0c{_LINE_TERMINATORS}])",
}
_PASS_THROUGH = set("dDwWsSbBtnrfa")
_QUANTIFIER_START = set("*+?{")


@functools.cache
def _categories() -> dict[str, Ranges]:
    """Code point ranges of every Unicode general category (and major class), built once."""
    found: dict[str, list[list[int]]] = {}
    for point in range(sys.maxunicode + 1):
        runs = found.setdefault(unicodedata.category(chr(point)), [])
        if runs and runs[-1][1] == point - 1:
            runs[-1][1] = point
        else:
            runs.append([point, point])
    table = {name: [(lo, hi) for lo, hi in runs] for name, runs in found.items()}
    for major in {name[0] for name in table}:
        table[major] = _merge(r for name, rs in table.items() if name[0] == major for r in rs)
    return table


def _merge(ranges: Iterable[tuple[int, int]]) -> Ranges:
    merged: Ranges = []
    for lo, hi in sorted(ranges):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def _complement(ranges: Ranges) -> Ranges:
    result: Ranges = []
    start = 0
    for lo, hi in ranges:
        if lo > start:
            result.append((start, lo - 1))
        start = hi + 1
    if start <= sys.maxunicode:
        result.append((start, sys.maxunicode))
    return result


def _property_ranges(name: str) -> Ranges:
    if name in _POSIX:
        return _POSIX[name]
    category = name[2:] if name.startswith("Is") and len(name) > 2 else name
    table = _categories() if len(category) <= 2 else {}
    if category not in table:
        raise UnsupportedPattern(f"unknown property \\p{{{name}}}")
    return table[category]


def _class_body(ranges: Ranges) -> str:
    def char(point: int) -> str:
        return f"\\U{point:08x}"

    return "".join(char(lo) if lo == hi else f"{char(lo)}-{char(hi)}" for lo, hi in ranges)


def _escape(pattern: str, i: int, in_class: bool) -> tuple[str, int]:
    """Translate the escape starting at pattern[i] (a backslash); return it and the next index."""
    if i + 1 >= len(pattern):
        raise UnsupportedPattern("trailing backslash")
    letter = pattern[i + 1]
    special = _SPECIAL_ESCAPES.get(letter)
    if special is not None and (letter != "x" or pattern.startswith("{", i + 2)):
        return special(pattern, i, in_class)
    if letter in _SIMPLE_ESCAPES and not (in_class and letter in "AzZR"):
        text = _SIMPLE_ESCAPES[letter]
        return (text.strip("[]") if in_class else text), i + 2
    if letter.isascii() and letter.isalpha() and letter not in _PASS_THROUGH and letter != "x":
        raise UnsupportedPattern(f"unsupported escape \\{letter}")
    return pattern[i : i + 2], i + 2


def _property(pattern: str, i: int, in_class: bool) -> tuple[str, int]:
    negated = pattern[i + 1] == "P"
    if pattern.startswith("{", i + 2):
        end = pattern.index("}", i + 3)
        name, after = pattern[i + 3 : end], end + 1
    else:
        name, after = pattern[i + 2 : i + 3], i + 3
    ranges = _property_ranges(name)
    if in_class:
        return _class_body(_complement(ranges) if negated else ranges), after
    return f"[{'^' if negated else ''}{_class_body(ranges)}]", after


def _unicode_escape(pattern: str, i: int, _in_class: bool) -> tuple[str, int]:
    point = int(pattern[i + 2 : i + 6], 16)
    low = re.match(r"\\u([dD][c-fC-F][0-9a-fA-F]{2})", pattern[i + 6 :])
    if 0xD800 <= point <= 0xDBFF and low is not None:
        point = 0x10000 + ((point - 0xD800) << 10) + (int(low.group(1), 16) - 0xDC00)
        return f"\\U{point:08x}", i + 12
    return f"\\u{point:04x}", i + 6


def _hex_escape(pattern: str, i: int, _in_class: bool) -> tuple[str, int]:
    end = pattern.index("}", i + 3)
    return f"\\U{int(pattern[i + 3 : end], 16):08x}", end + 1


def _quoted(pattern: str, i: int, _in_class: bool) -> tuple[str, int]:
    end = pattern.find("\\E", i + 2)
    end = len(pattern) if end < 0 else end
    return re.escape(pattern[i + 2 : end]), end + 2


def _octal(pattern: str, i: int, _in_class: bool) -> tuple[str, int]:
    digits = re.match(r"[0-7]{1,3}", pattern[i + 2 :])
    if digits is None:
        raise UnsupportedPattern("bad octal escape")
    return f"\\x{int(digits.group(), 8):02x}", i + 2 + len(digits.group())


_SPECIAL_ESCAPES: dict[str, Callable[[str, int, bool], tuple[str, int]]] = {
    "p": _property,
    "P": _property,
    "u": _unicode_escape,
    "x": _hex_escape,
    "Q": _quoted,
    "0": _octal,
}


def _group_open(pattern: str, i: int) -> tuple[str, int]:
    """Java's named group `(?<name>` is Python's `(?P<name>`; everything else is alike."""
    named = re.match(r"\(\?<([a-zA-Z][a-zA-Z0-9]*)>", pattern[i:])
    if named is not None:
        return f"(?P<{named.group(1)}>", i + len(named.group())
    return "(", i + 1


def translate(pattern: str) -> str:
    """The Python `re` source matching what the Java pattern matches (use with re.ASCII)."""
    out: list[str] = []
    i, in_class, class_start = 0, False, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            piece, i = _escape(pattern, i, in_class)
            out.append(piece)
            class_start = False
            continue
        if in_class:
            if c == "[" or pattern.startswith("&&", i):
                raise UnsupportedPattern("nested character classes are not supported")
            in_class = not (c == "]" and not class_start)
            class_start = class_start and c == "^"
            out.append(c)
        elif c == "[":
            in_class = class_start = True
            out.append(c)
        elif c == "(":
            piece, i = _group_open(pattern, i)
            out.append(piece)
            continue
        elif c == ".":
            out.append(_DOT)
        elif c in "^$" and pattern[i + 1 : i + 2] in _QUANTIFIER_START:
            out.append(f"(?:{c})")  # Java allows a quantified anchor, Python does not
        else:
            out.append(c)
        i += 1
    if in_class:
        raise UnsupportedPattern("unterminated character class")
    return "".join(out)


@functools.cache
def compile_pattern(pattern: str) -> re.Pattern[str] | None:
    """The compiled translation, or None when the pattern cannot be translated faithfully."""
    try:
        return re.compile(translate(pattern), re.ASCII)
    except (UnsupportedPattern, re.error, ValueError):
        return None


def matches(pattern: str, value: str) -> bool:
    """Whether the whole value matches the Java pattern; untranslatable patterns accept all."""
    compiled = compile_pattern(pattern)
    return compiled is None or compiled.fullmatch(value) is not None
