"""Values printed as AWS's Java services print them in their messages."""

from __future__ import annotations

import datetime as dt

import pytest

from smlocal.capture_sink.aws_shapes.java_text import QUOTE_LIMIT, java_double, java_string, quoted


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1.0"),
        (0.5, "0.5"),
        (100.0, "100.0"),
        (1e7, "1.0E7"),
        (1.25e-4, "1.25E-4"),
        (12345678.9, "1.23456789E7"),
        (-2.0, "-2.0"),
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
    ],
)
def test_java_double(value: float, text: str):
    assert java_double(value) == text


def test_java_string():
    assert java_string(True) == "true"
    assert java_string([1, "a", None]) == "[1, a, null]"
    assert java_string({"A": 1.5, "B": [False]}) == "{A=1.5, B=[false]}"
    assert java_string(b"abc") == "java.nio.HeapByteBuffer[pos=0 lim=3 cap=3]"
    assert java_string(3, "float") == "3.0"
    moment = dt.datetime(2018, 6, 24, 19, 59, 29, tzinfo=dt.UTC)
    assert java_string(moment) == "Sun Jun 24 19:59:29 UTC 2018"


def test_quoted_cuts_only_past_the_limit():
    assert quoted("a" * QUOTE_LIMIT) == f"'{'a' * QUOTE_LIMIT}'"
    assert (
        quoted("a" * (QUOTE_LIMIT + 1)) == f"'{'a' * QUOTE_LIMIT}…' ({QUOTE_LIMIT + 1} characters)"
    )
