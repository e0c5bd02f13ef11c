"""The second pass of AWS's request pipeline: every constraint the model declares.

Required members, string/blob/list/map lengths, numeric ranges, enums and patterns, each
failure worded as AWS words it and, for a request, joined into one message, at most ten, as
in `2 validation errors detected: Value 'x' at 'productionVariants.1.member.variantName'
failed to satisfy constraint: Member must satisfy regular expression pattern: …; …`.

Paths are member names with the first letter lowered; list elements are `name.N.member`
(N counts from 1) and map values `name.key.member`. A list or map of scalars is reported
once, at the list or map, with all the element's constraints in brackets.

A request reaches this pass only once its types are right (`type_checks`). A document a
person wrote by hand (a model server's DataCaptureConfig in its environment) never went
through AWS's deserializer, whose type message names no member: with `Rules.hand_written`
a value of the wrong type is reported here, at its path, and so is a member the shape does
not have (AWS's deserializer drops those silently; a misspelt name would go unnoticed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from smlocal.capture_sink.aws_shapes.java_text import java_double, java_string, quoted
from smlocal.capture_sink.aws_shapes.models import SAGEMAKER
from smlocal.capture_sink.aws_shapes.patterns import matches
from smlocal.capture_sink.aws_shapes.type_checks import fits

MAX_REPORTED = 10
_SCALARS = {"string", "integer", "long", "float", "double", "boolean", "timestamp", "blob"}
_NUMBERS = ("integer", "long", "float", "double")
_WRONG_TYPE = {
    "structure": "Member must be a JSON object",
    "map": "Member must be a JSON object",
    "list": "Member must be a JSON array",
    "string": "Member must be a string",
    "integer": "Member must be an integer",
    "long": "Member must be an integer",
    "float": "Member must be a number",
    "double": "Member must be a number",
    "boolean": "Member must be a boolean (true or false)",
}


@dataclass(frozen=True)
class Rules:
    """How failures are worded for one service, and what smlocal accepts beyond its model."""

    # botocore's copy of the SageMaker model has the anchors of most patterns stripped, but
    # the service prints its own, anchored form (a real message: `Member must satisfy
    # regular expression pattern: ^[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?$` for a model name).
    anchored_patterns: bool = False
    # (structure shape name, member name, value) -> True to accept the value unchecked.
    allow: Callable[[str, str, Any], bool] | None = None
    # A document not read by AWS's deserializer: wrong types and unknown members reported.
    hand_written: bool = False

    @classmethod
    def of(
        cls,
        service_name: str,
        allow: Callable[[str, str, Any], bool] | None = None,
        hand_written: bool = False,
    ) -> Rules:
        """The wording of one service's messages (`sagemaker`: patterns anchored)."""
        return cls(service_name == SAGEMAKER, allow, hand_written)


DEFAULT_RULES = Rules()


def validation_message(failures: list[str]) -> str:
    """AWS's summary: `N validation error(s) detected: a; b`, listing at most ten."""
    shown = failures[:MAX_REPORTED]
    plural = "s" if len(shown) > 1 else ""
    return f"{len(shown)} validation error{plural} detected: " + "; ".join(shown)


def constraint_failures(
    shape: Any, value: Any, path: str = "", rules: Rules = DEFAULT_RULES
) -> Iterator[str]:
    """Every constraint failure of a value, as AWS words each one, in model order."""
    kind = shape.type_name
    if rules.hand_written and kind in _WRONG_TYPE and not fits(kind, value):
        yield _failure(shape, value, path, _WRONG_TYPE[kind])
    elif kind == "structure":
        yield from _structure_failures(shape, value, path, rules)
    elif kind in ("list", "map"):
        yield from _collection_failures(shape, value, path, rules)
    else:
        for constraint in _scalar_failures(shape, value, rules):
            yield _failure(shape, value, path, constraint)


def _structure_failures(
    shape: Any, value: Mapping[str, Any], path: str, rules: Rules
) -> Iterator[str]:
    if rules.hand_written:
        yield from _unknown_members(shape, value, path)
    required = set(shape.required_members)
    for name, member in shape.members.items():
        here = f"{path}.{_lower_first(name)}" if path else _lower_first(name)
        item = value.get(name)
        if item is None:
            if name in required:
                yield _failure(member, None, here, "Member must not be null")
        elif rules.allow is not None and rules.allow(shape.name, name, item):
            continue
        else:
            yield from constraint_failures(member, item, here, rules)


def _unknown_members(shape: Any, value: Mapping[str, Any], path: str) -> Iterator[str]:
    unknown = [str(key) for key in value if key not in shape.members]
    if unknown:
        yield (
            f"Unknown parameter{'s' if len(unknown) > 1 else ''} at '{path}': "
            f"{', '.join(unknown)}; it must be one of: {', '.join(shape.members)}"
        )


def _collection_failures(shape: Any, value: Any, path: str, rules: Rules) -> Iterator[str]:
    """A list's or map's length, a map's keys, then the elements."""
    for constraint in _length_failures(shape, len(value)):
        yield _failure(shape, value, path, constraint)
    if shape.type_name == "map" and any(_scalar_failures(shape.key, k, rules) for k in value):
        yield _failure(shape, value, path, _bracketed("Map keys", shape.key, rules))
    if shape.type_name == "list":
        subject, member = "Member", shape.member
        entries = [(f"{path}.{index}.member", item) for index, item in enumerate(value, start=1)]
    else:
        subject, member = "Map value", shape.value
        entries = [(f"{path}.{key}.member", item) for key, item in value.items()]
    if member.type_name not in _SCALARS:
        for here, item in entries:
            if item is None:
                yield _failure(member, None, here, "Member must not be null")
            else:
                yield from constraint_failures(member, item, here, rules)
        return
    # Scalars: one failure at the collection, with every rule of the element listed (and in
    # a hand-written document, each element of the wrong type at its own path).
    checked = []
    for here, item in entries:
        if rules.hand_written and item is not None and not fits(member.type_name, item):
            yield from constraint_failures(member, item, here, rules)
        else:
            checked.append(item)
    if any(item is None or _scalar_failures(member, item, rules) for item in checked):
        yield _failure(shape, value, path, _bracketed(subject, member, rules))


def _scalar_failures(shape: Any, value: Any, rules: Rules = DEFAULT_RULES) -> list[str]:
    """The constraints a scalar value breaks: enum, pattern, then length or range."""
    meta = shape.metadata
    failed: list[str] = []
    enum = meta.get("enum")
    if enum and value not in enum:
        failed.append(_enum_rule(enum))
    if "pattern" in meta and isinstance(value, str) and not matches(meta["pattern"], value):
        failed.append(_pattern_rule(meta["pattern"], rules))
    if shape.type_name in ("string", "blob"):
        failed.extend(_length_failures(shape, _length(value)))
    elif shape.type_name in _NUMBERS:
        failed.extend(_range_failures(shape, value))
    return failed


def _length_failures(shape: Any, length: int) -> list[str]:
    meta = shape.metadata
    if "max" in meta and length > meta["max"]:
        return [f"Member must have length less than or equal to {meta['max']}"]
    if "min" in meta and length < meta["min"]:
        return [f"Member must have length greater than or equal to {meta['min']}"]
    return []


def _range_failures(shape: Any, value: float) -> list[str]:
    meta = shape.metadata
    if "max" in meta and value > meta["max"]:
        return [f"Member must have value less than or equal to {_bound(shape, meta['max'])}"]
    if "min" in meta and value < meta["min"]:
        return [f"Member must have value greater than or equal to {_bound(shape, meta['min'])}"]
    return []


def _bracketed(subject: str, shape: Any, rules: Rules) -> str:
    """`Map keys must satisfy constraint: [every rule of the key shape]`, as AWS lists them."""
    return f"{subject} must satisfy constraint: [{', '.join(_rules(shape, rules))}]"


def _rules(shape: Any, rules: Rules) -> list[str]:
    meta = shape.metadata
    noun = "value" if shape.type_name in _NUMBERS else "length"
    listed = []
    if "max" in meta:
        listed.append(f"Member must have {noun} less than or equal to {_bound(shape, meta['max'])}")
    if "min" in meta:
        listed.append(
            f"Member must have {noun} greater than or equal to {_bound(shape, meta['min'])}"
        )
    if "pattern" in meta:
        listed.append(_pattern_rule(meta["pattern"], rules))
    if meta.get("enum"):
        listed.append(_enum_rule(meta["enum"]))
    return listed


def _enum_rule(enum: list[str]) -> str:
    return f"Member must satisfy enum value set: [{', '.join(enum)}]"


def _pattern_rule(pattern: str, rules: Rules) -> str:
    anchored = pattern.startswith(("^", "\\A")) or pattern.endswith("$")
    if rules.anchored_patterns and not anchored:
        pattern = f"^{pattern}$"
    return f"Member must satisfy regular expression pattern: {pattern}"


def _failure(shape: Any, value: Any, path: str, constraint: str) -> str:
    if value is None:
        shown = "Value null"
    elif shape.metadata.get("sensitive"):
        shown = "Value"
    else:
        shown = f"Value {quoted(java_string(value, shape.type_name))}"
    return f"{shown} at '{path}' failed to satisfy constraint: {constraint}"


def _length(value: str | bytes | bytearray) -> int:
    """Java's length: UTF-16 code units for strings, bytes for blobs."""
    if isinstance(value, str):
        return len(value.encode("utf-16-le")) // 2
    return len(value)


def _bound(shape: Any, bound: float) -> str:
    if shape.type_name in ("float", "double"):
        return java_double(float(bound))
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _lower_first(name: str) -> str:
    return name[:1].lower() + name[1:]
