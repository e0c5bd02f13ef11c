"""Request validation driven by the botocore service models, worded the way AWS words it.

Two passes, like AWS's request pipeline: a type check first (a value of the wrong JSON
type is a `SerializationException` with Coral's message, and only the first one is
reported), then every constraint of the model: required members, string/blob/list/map
lengths, numeric ranges, enums and patterns. Constraint failures are joined into one
`ValidationException` (the runtime: `ValidationError`), at most ten of them, as in
`2 validation errors detected: Value 'x' at 'productionVariants.1.member.variantName'
failed to satisfy constraint: Member must satisfy regular expression pattern: …; …`.

Paths are member names with the first letter lowered; list elements are `name.N.member`
(N counts from 1) and map values `name.key.member`. A list or map of scalars is reported
once, at the list or map, with all the element's constraints in brackets.

A quoted value longer than QUOTE_LIMIT characters is cut (`quoted`), so a 20 MB value does
not come back as a 20 MB message; values that fit are quoted exactly as AWS quotes them.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import math
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from smlocal.emulator.errors import SerializationException, validation_error_class
from smlocal.emulator.wire.patterns import matches

MAX_REPORTED = 10
# The most characters of a value an error message quotes. Values that fit are quoted whole,
# as AWS quotes them: names, ARNs and URIs, and also the usual slightly-too-long values of
# the longest members (a map of environment values of 1,024 characters, hyperparameters of
# 2,500, printed whole); a 20 MB value is cut to this.
QUOTE_LIMIT = 4096
_SCALARS = {"string", "integer", "long", "float", "double", "boolean", "timestamp", "blob"}
_JAVA_TYPES = {
    "string": "an String",  # sic: Coral's grammar
    "integer": "an Integer",
    "long": "an Long",
    "float": "an Float",
    "double": "an Double",
    "boolean": "an Boolean",
    "timestamp": "an Date",
    "blob": "a Blob",
}
_NUMBER_CLASS = "class com.amazon.coral.value.json.numbers.TruncatingBigNumber"
# botocore's copy of the SageMaker model has the anchors of most patterns stripped, but the
# service prints its own, anchored form (a real message: `Member must satisfy regular
# expression pattern: ^[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?$` for a model name).
_ANCHORED = contextvars.ContextVar("anchored_patterns", default=False)


def validate(service_model: Any, operation_name: str, params: Mapping[str, Any]) -> None:
    """Raise ValidationException (runtime: ValidationError) or SerializationException."""
    shape = service_model.operation_model(operation_name).input_shape
    if shape is None:
        return
    check_types(shape, params)
    error = validation_error_class(service_model)
    token = _ANCHORED.set(service_model.service_name == "sagemaker")
    try:
        failures = list(constraint_failures(shape, params))
    finally:
        _ANCHORED.reset(token)
    if failures:
        raise error(validation_message(failures))


def validation_message(failures: list[str]) -> str:
    """AWS's summary: `N validation error(s) detected: a; b`, listing at most ten."""
    shown = failures[:MAX_REPORTED]
    plural = "s" if len(shown) > 1 else ""
    return f"{len(shown)} validation error{plural} detected: " + "; ".join(shown)


# ---- pass 1: types ----------------------------------------------------------------------


def check_types(shape: Any, value: Any) -> None:
    """Raise SerializationException at the first value whose type does not fit its shape."""
    problem = type_problem(shape.type_name, value)
    if problem is not None:
        raise SerializationException(problem)
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            if value.get(name) is not None:
                check_types(member, value[name])
    elif shape.type_name == "list":
        for item in value:
            if item is not None:
                check_types(shape.member, item)
    elif shape.type_name == "map":
        for key, item in value.items():
            check_types(shape.key, key)
            if item is not None:
                check_types(shape.value, item)


def type_problem(type_name: str, value: Any) -> str | None:
    """Coral's deserializer message for a value of the wrong type, or None if it fits."""
    if _fits(type_name, value):
        return None
    if type_name in ("structure", "list", "map") or isinstance(value, list | tuple | dict):
        return _container_problem(type_name, value)
    target = _JAVA_TYPES[type_name]
    if isinstance(value, str) and type_name == "boolean":
        return f"{quoted(value.upper())} can not be converted to {target}"
    if isinstance(value, bool):
        source = "class java.lang.Boolean"
    elif isinstance(value, int | float):
        source = _NUMBER_CLASS
    else:
        source = "class java.lang.String" if isinstance(value, str) else "class java.lang.Object"
    return f"{source} can not be converted to {target}"


def _container_problem(type_name: str, value: Any) -> str:
    if isinstance(value, list | tuple):
        return "Start of list found where not expected"
    if isinstance(value, dict):
        return "Start of structure or map found where not expected."
    return "Expected null" if type_name == "structure" else f"Expected {type_name} or null"


def _fits(type_name: str, value: Any) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    fits: dict[str, bool] = {
        "structure": isinstance(value, dict),
        "map": isinstance(value, dict),
        "list": isinstance(value, list | tuple),
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "long": isinstance(value, int) and not isinstance(value, bool),
        "float": number,
        "double": number,
        "boolean": isinstance(value, bool),
        "timestamp": isinstance(value, dt.datetime) or number,
        "blob": isinstance(value, bytes | bytearray | str),
    }
    return fits.get(type_name, True)


# ---- pass 2: constraints ----------------------------------------------------------------


def constraint_failures(shape: Any, value: Any, path: str = "") -> Iterator[str]:
    """Every constraint failure of a well-typed value, as AWS words each one, in model order."""
    kind = shape.type_name
    if kind == "structure":
        yield from _structure_failures(shape, value, path)
    elif kind == "list":
        yield from _collection_failures(shape, value, path)
        yield from _list_member_failures(shape, value, path)
    elif kind == "map":
        yield from _collection_failures(shape, value, path)
        yield from _map_entry_failures(shape, value, path)
    else:
        for constraint in scalar_failures(shape, value):
            yield _failure(shape, value, path, constraint)


# smlocal's one extension of the API: model data may be a local path (or file:// URL) on
# the emulator's machine, as well as an s3:// or https:// URL.
LOCAL_PATH_MEMBERS = frozenset(
    {("ContainerDefinition", "ModelDataUrl"), ("ModelPackageContainerDefinition", "ModelDataUrl")}
)


def _structure_failures(shape: Any, value: Mapping[str, Any], path: str) -> Iterator[str]:
    required = set(shape.required_members)
    for name, member in shape.members.items():
        here = f"{path}.{_lower_first(name)}" if path else _lower_first(name)
        item = value.get(name)
        if item is None:
            if name in required:
                yield _failure(member, None, here, "Member must not be null")
        elif (shape.name, name) in LOCAL_PATH_MEMBERS and str(item).startswith(("/", "file://")):
            continue
        else:
            yield from constraint_failures(member, item, here)


def _collection_failures(shape: Any, value: Any, path: str) -> Iterator[str]:
    for constraint in _length_failures(shape, len(value)):
        yield _failure(shape, value, path, constraint)


def _list_member_failures(shape: Any, value: list[Any], path: str) -> Iterator[str]:
    member = shape.member
    if member.type_name in _SCALARS:
        if any(item is None or scalar_failures(member, item) for item in value):
            yield _failure(shape, value, path, _bracketed("Member", member))
        return
    for index, item in enumerate(value, start=1):
        here = f"{path}.{index}.member"
        if item is None:
            yield _failure(member, None, here, "Member must not be null")
        else:
            yield from constraint_failures(member, item, here)


def _map_entry_failures(shape: Any, value: Mapping[str, Any], path: str) -> Iterator[str]:
    if any(scalar_failures(shape.key, key) for key in value):
        yield _failure(shape, value, path, _bracketed("Map keys", shape.key))
    member = shape.value
    if member.type_name in _SCALARS:
        if any(item is None or scalar_failures(member, item) for item in value.values()):
            yield _failure(shape, value, path, _bracketed("Map value", member))
        return
    for key, item in value.items():
        here = f"{path}.{key}.member"
        if item is None:
            yield _failure(member, None, here, "Member must not be null")
        else:
            yield from constraint_failures(member, item, here)


def scalar_failures(shape: Any, value: Any) -> list[str]:
    """The constraints a scalar value breaks: enum, pattern, then length or range."""
    meta = shape.metadata
    failed: list[str] = []
    enum = meta.get("enum")
    if enum and value not in enum:
        failed.append(_enum_rule(enum))
    if "pattern" in meta and isinstance(value, str) and not matches(meta["pattern"], value):
        failed.append(_pattern_rule(meta["pattern"]))
    if shape.type_name in ("string", "blob"):
        failed.extend(_length_failures(shape, _length(value)))
    elif shape.type_name in ("integer", "long", "float", "double"):
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


def _bracketed(subject: str, shape: Any) -> str:
    """`Map keys must satisfy constraint: [every rule of the key shape]`, as AWS lists them."""
    return f"{subject} must satisfy constraint: [{', '.join(_rules(shape))}]"


def _rules(shape: Any) -> list[str]:
    meta = shape.metadata
    numeric = shape.type_name in ("integer", "long", "float", "double")
    noun = "value" if numeric else "length"
    rules = []
    if "max" in meta:
        rules.append(f"Member must have {noun} less than or equal to {_bound(shape, meta['max'])}")
    if "min" in meta:
        rules.append(
            f"Member must have {noun} greater than or equal to {_bound(shape, meta['min'])}"
        )
    if "pattern" in meta:
        rules.append(_pattern_rule(meta["pattern"]))
    if meta.get("enum"):
        rules.append(_enum_rule(meta["enum"]))
    return rules


def _enum_rule(enum: list[str]) -> str:
    return f"Member must satisfy enum value set: [{', '.join(enum)}]"


def _pattern_rule(pattern: str) -> str:
    if _ANCHORED.get() and not pattern.startswith(("^", "\\A")) and not pattern.endswith("$"):
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


def quoted(text: str) -> str:
    """A value in quotes as AWS's messages show it, cut after QUOTE_LIMIT characters with an
    ellipsis and its length: `'aaaa…' (20971520 characters)`."""
    if len(text) <= QUOTE_LIMIT:
        return f"'{text}'"
    return f"'{text[:QUOTE_LIMIT]}…' ({len(text)} characters)"


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
