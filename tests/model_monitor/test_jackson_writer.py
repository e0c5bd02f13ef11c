"""The JSON writer: Java doubles and Jackson's default pretty printer."""

from __future__ import annotations

import json

import pytest
from monitor_helpers import DATA

from smlocal.capture_sink.aws_shapes.java_text import java_double
from smlocal.model_monitor.jackson import dumps


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (2008.0, "2008.0"),
        (0.1393056150878697, "0.1393056150878697"),
        (0.001, "0.001"),
        (9.9e-4, "9.9E-4"),
        (1.8463239666666668e7, "1.8463239666666668E7"),
        (1.66169157e8, "1.66169157E8"),
        (9999999.0, "9999999.0"),
        (1e7, "1.0E7"),
        (-2.5e-300, "-2.5E-300"),
        (1e23, "1.0E23"),
        (5e-324, "4.9E-324"),  # Java picks the closer two-digit decimal for subnormals
        (float("nan"), "NaN"),
        (float("-inf"), "-Infinity"),
    ],
)
def test_java_double(value: float, text: str) -> None:
    assert java_double(value) == text


def test_pretty_printer_layout() -> None:
    document = {
        "version": 0.0,
        "dataset": {"item_count": 3},
        "features": [{"name": "a", "data": [[1.0, 2.5], []]}, {"name": "b", "empty": {}}],
        "flags": [True, False, None],
    }
    assert dumps(document) == (
        "{\n"
        '  "version" : 0.0,\n'
        '  "dataset" : {\n'
        '    "item_count" : 3\n'
        "  },\n"
        '  "features" : [ {\n'
        '    "name" : "a",\n'
        '    "data" : [ [ 1.0, 2.5 ], [ ] ]\n'
        "  }, {\n"
        '    "name" : "b",\n'
        '    "empty" : { }\n'
        "  } ],\n"
        '  "flags" : [ true, false, null ]\n'
        "}"
    )


def test_strings_are_escaped_like_jackson() -> None:
    text = dumps({"v": 'a"b\\c\n\t\x01é'})
    assert text == '{\n  "v" : "a\\"b\\\\c\\n\\t\\u0001é"\n}'
    assert json.loads(text) == {"v": 'a"b\\c\n\t\x01é'}


def test_non_finite_doubles_stay_valid_json() -> None:
    assert json.loads(dumps([float("nan"), float("inf")])) == ["NaN", "Infinity"]


def test_real_violations_file_round_trips_byte_for_byte() -> None:
    real = (DATA / "violations_2020.txt").read_text(encoding="utf-8")
    assert dumps(json.loads(real)) == real
