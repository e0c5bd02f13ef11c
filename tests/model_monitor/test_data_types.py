"""Deequ 2.0.2 type inference: per-value classes, the column type, and number parsing."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest

from smlocal.model_monitor.datatypes import DataType, TypeCounts, classify, parse_numbers


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("0", "integral"),
        ("007", "integral"),
        ("-12", "integral"),
        ("+12", "integral"),
        ("- 12", "integral"),
        (" 12", "integral"),
        ("1.5", "fractional"),
        ("-1.5e-3", "fractional"),
        ("1E5", "fractional"),
        ("3.50", "fractional"),
        ("1.", "string"),  # Deequ 1.x took these as fractional; 2.0.2 does not
        (".5", "string"),
        ("1e", "string"),
        ("12 ", "string"),
        ("1,5", "string"),
        ("NaN", "string"),
        ("٣", "string"),  # \d is ASCII only in Java
        ("true", "boolean"),
        ("false", "boolean"),
        ("True", "string"),
        ("", "string"),
    ],
)
def test_each_value_is_classified_like_deequ(value: str, kind: str) -> None:
    counts = classify(pa.array([value])).counts
    assert getattr(counts, kind) == 1
    assert counts.total == 1


def test_numeric_mask_picks_integral_and_fractional_values() -> None:
    classified = classify(pa.array(["1", "x", "2.5", "true"]))
    assert classified.numeric.tolist() == [True, False, True, False]


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        (TypeCounts(), DataType.UNKNOWN),
        (TypeCounts(integral=5), DataType.INTEGRAL),
        (TypeCounts(integral=5, fractional=1), DataType.FRACTIONAL),
        (TypeCounts(boolean=2), DataType.BOOLEAN),
        (TypeCounts(boolean=2, integral=1), DataType.STRING),
        (TypeCounts(integral=99, string=1), DataType.STRING),
    ],
)
def test_column_type_follows_determine_type(counts: TypeCounts, expected: DataType) -> None:
    assert counts.inferred() == expected


def test_matching_counts_for_expected_types() -> None:
    counts = TypeCounts(fractional=2, integral=3, boolean=1, string=4)
    assert counts.matching("Integral") == 3
    assert counts.matching("Fractional") == 5  # integral values are valid fractional data
    assert counts.matching("Boolean") == 1
    assert counts.matching("String") is None  # anything is a string


def test_numbers_parse_like_spark_casts() -> None:
    parsed = parse_numbers(pa.array(["+5", " 7", "- 5", "1e3", "2.25"]))
    assert parsed[[0, 1, 3, 4]].tolist() == [5.0, 7.0, 1000.0, 2.25]
    assert math.isnan(parsed[2])  # Java's parseDouble rejects a space after the sign
