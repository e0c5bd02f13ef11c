"""Java patterns from the botocore models, matched the way AWS matches them."""

from __future__ import annotations

import re

import pytest

from smlocal.capture_sink.aws_shapes.models import service_model
from smlocal.capture_sink.aws_shapes.patterns import (
    UnsupportedPattern,
    compile_pattern,
    matches,
    translate,
)


def model_patterns() -> set[str]:
    found: set[str] = set()
    for model in (service_model("sagemaker"), service_model("sagemaker-runtime")):
        for name in model.shape_names:
            pattern = model.shape_for(name).metadata.get("pattern")
            if pattern is not None:
                found.add(pattern)
    return found


def test_every_pattern_of_both_models_translates_and_compiles():
    patterns = model_patterns()
    assert len(patterns) > 200
    untranslatable = sorted(p for p in patterns if compile_pattern(p) is None)
    assert untranslatable == []


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        # AWS requires the whole value to match (Java's matches()), anchors or not.
        ("^[a-zA-Z0-9](-*[a-zA-Z0-9])*", "ENTER MODEL NAME", False),
        ("^[a-zA-Z0-9](-*[a-zA-Z0-9])*", "demo-ep", True),
        ("[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", "AllTraffic", True),
        ("[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", "All_Traffic", False),
        ("[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", "ends-with-", False),
        # Tag keys and values: Unicode letters, separators and numbers.
        (r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)", "Projekt Größe: 5", True),
        (r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)", "名前", True),
        (r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)", "a#b", False),
        (r"([\p{L}\p{Z}\p{N}_.:/=+\-@]*)", "tab\there", False),
        # \p{Print} is ASCII 0x20-0x7E in Java; \S is any non-ASCII-whitespace character.
        (r"\A\S[\p{Print}]*\z", "abc-1", True),
        (r"\A\S[\p{Print}]*\z", " leading-space", False),
        (r"\A\S[\p{Print}]*\z", "trailing-newline\n", False),
        (r"\A\S[\p{Print}]*\z", "a\u00e9", False),
        (r"\A\S[\p{Print}]*\z", "\u00e9", True),
        (r"\p{ASCII}*", "text/csv", True),
        (r"\p{ASCII}*", "caf\u00e9", False),
        # Java's \d and \w are ASCII.
        (r"\d+", "123", True),
        (r"\d+", "\u0661\u0662", False),
        (r"[\w:]+", "a_b:c", True),
        (r"[\w:]+", "\u00e9", False),
        # Java's dot stops at any line terminator, \r included.
        (".*", "a\rb", False),
        (r"[\S\s]*", "a\r\nb", True),
        # A surrogate pair in a class is one supplementary code point.
        (r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*", "ok \U0001f600\t", True),
        (r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*", "\x01", False),
        # Java accepts a quantified anchor; it means the anchor.
        (r"([\p{L}\p{Z}\p{N}_.:\/=+\-@]*)${1,128}", "key", True),
        (
            r"arn:[\p{Alnum}\-]+:lambda:[\p{Alnum}\-]+:[0-9]{12}:function:.*",
            "arn:aws:lambda:us-east-1:123456789012:function:f",
            True,
        ),
        (
            r"(arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:[a-z\-]*\/)?([a-zA-Z0-9]([a-zA-Z0-9-]){0,62})(?<!-)(\/[0-9]{1,9})?",
            "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3",
            True,
        ),
        (
            r"(arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]*:[0-9]{12}:[a-z\-]*\/)?([a-zA-Z0-9]([a-zA-Z0-9-]){0,62})(?<!-)(\/[0-9]{1,9})?",
            "churn-",
            False,
        ),
    ],
)
def test_matches_like_java(pattern: str, value: str, expected: bool):
    assert matches(pattern, value) is expected


def test_translation_of_java_only_constructs():
    assert translate(r"\A\S[\p{Print}]*\z") == r"\A\S[\U00000020-\U0000007e]*\Z"
    assert translate(r"[\uD800\uDC00-\uDBFF\uDFFF]") == r"[\U00010000-\U0010ffff]"
    assert translate(r"\x{41}\Qa.b\E\0101") == r"\U00000041a\.b\x41"
    assert translate(r"(?<name>x)(?<!y)") == r"(?P<name>x)(?<!y)"
    assert re.fullmatch(translate(r"[^\P{L}]+"), "abc")


@pytest.mark.parametrize("pattern", [r"[a[b]]", r"[a-z&&[^e]]", r"\p{InGreek}", r"\G", r"[abc"])
def test_constructs_without_a_faithful_translation_are_refused(pattern: str):
    with pytest.raises(UnsupportedPattern):
        translate(pattern)
    assert compile_pattern(pattern) is None
    assert matches(pattern, "anything")  # the check is skipped rather than guessed
