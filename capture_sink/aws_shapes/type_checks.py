"""The first pass of AWS's request pipeline: does each value have its member's JSON type?

AWS's deserializer (Coral) stops at the first value of the wrong type and answers a
`SerializationException` whose message names the Java types but not the member, e.g.
`class java.lang.String can not be converted to an Integer`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from smlocal.capture_sink.aws_shapes.java_text import quoted

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


def first_type_problem(shape: Any, value: Any) -> str | None:
    """Coral's message for the first value (in model order) whose type does not fit its shape."""
    problem = type_problem(shape.type_name, value)
    if problem is not None:
        return problem
    inner: list[tuple[Any, Any]] = []
    if shape.type_name == "structure":
        inner = [(m, value[n]) for n, m in shape.members.items() if value.get(n) is not None]
    elif shape.type_name == "list":
        inner = [(shape.member, item) for item in value if item is not None]
    elif shape.type_name == "map":
        for key, item in value.items():
            inner.append((shape.key, key))
            if item is not None:
                inner.append((shape.value, item))
    for member, item in inner:
        problem = first_type_problem(member, item)
        if problem is not None:
            return problem
    return None


def type_problem(type_name: str, value: Any) -> str | None:
    """Coral's deserializer message for a value of the wrong type, or None if it fits."""
    if fits(type_name, value):
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


def fits(type_name: str, value: Any) -> bool:
    """Whether a value has the Python type botocore gives a member of this shape type."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    fitting: dict[str, bool] = {
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
    return fitting.get(type_name, True)
