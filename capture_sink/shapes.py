"""Validation of a request member against its botocore shape, with AWS's own messages.

The SageMaker service model that botocore ships declares, for each member, the constraints
the API enforces (required members, ranges, lengths, patterns, enum values). Checking a
document against that shape reproduces the API's ValidationException text, e.g.
``Value '150' at 'dataCaptureConfig.initialSamplingPercentage' failed to satisfy
constraint: Member must have value less than or equal to 100``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:  # botocore is imported when a shape is first needed, not with this module
    from botocore.model import ListShape, Shape, StructureShape


@functools.cache
def sagemaker_shape(name: str) -> Shape:
    """A shape of the SageMaker control-plane model shipped with botocore."""
    from botocore.loaders import Loader
    from botocore.model import ServiceModel

    model = ServiceModel(Loader().load_service_model("sagemaker", "service-2"), "sagemaker")
    return model.shape_for(name)


def member_path(parent: str, member: str) -> str:
    """The path AWS prints for a member: lower camel case names joined by dots."""
    name = member[:1].lower() + member[1:]
    return f"{parent}.{name}" if parent else name


def show(value: Any) -> str:
    """A value as AWS quotes it in a message (Java's toString of the member)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"'{str(value).lower()}'"
    if isinstance(value, list):
        return "'[" + ", ".join(_plain(v) for v in value) + "]'"
    return f"'{_plain(value)}'"


def _plain(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}={_plain(v)}" for k, v in value.items()) + "}"
    return str(value)


def _fail(value: Any, path: str, constraint: str) -> str:
    return f"Value {show(value)} at '{path}' failed to satisfy constraint: {constraint}"


def validate(value: Any, shape: Shape, path: str) -> list[str]:
    """Every constraint of `shape` that `value` breaks, as AWS-style messages."""
    kind = shape.type_name
    if kind == "structure":
        return _structure(value, cast("StructureShape", shape), path)
    if kind == "list":
        return _list(value, cast("ListShape", shape), path)
    if kind == "string":
        return _string(value, shape, path)
    if kind in ("integer", "long"):
        return _integer(value, shape, path)
    if kind == "boolean" and not isinstance(value, bool):
        return [_fail(value, path, "Member must be a boolean (true or false)")]
    return []


def _structure(value: Any, shape: StructureShape, path: str) -> list[str]:
    if not isinstance(value, Mapping):
        return [_fail(value, path, "Member must be a JSON object")]
    errors = []
    unknown = [k for k in value if k not in shape.members]
    if unknown:
        allowed = ", ".join(shape.members)
        errors.append(
            f"Unknown parameter{'s' if len(unknown) > 1 else ''} at '{path}': "
            f"{', '.join(map(str, unknown))}; it must be one of: {allowed}"
        )
    for name, member in shape.members.items():
        child = member_path(path, name)
        if value.get(name) is None:
            if name in shape.required_members:
                errors.append(_fail(None, child, "Member must not be null"))
            continue
        errors.extend(validate(value[name], member, child))
    return errors


def _list(value: Any, shape: ListShape, path: str) -> list[str]:
    if not isinstance(value, list):
        return [_fail(value, path, "Member must be a JSON array")]
    errors = _length(value, shape.metadata, path)
    for index, item in enumerate(value, start=1):
        errors.extend(validate(item, shape.member, f"{path}.{index}.member"))
    return errors


def _length(value: str | list[Any], limits: Mapping[str, Any], path: str) -> list[str]:
    if "min" in limits and len(value) < limits["min"]:
        return [
            _fail(value, path, f"Member must have length greater than or equal to {limits['min']}")
        ]
    if "max" in limits and len(value) > limits["max"]:
        return [
            _fail(value, path, f"Member must have length less than or equal to {limits['max']}")
        ]
    return []


def _string(value: Any, shape: Shape, path: str) -> list[str]:
    if not isinstance(value, str):
        return [_fail(value, path, "Member must be a string")]
    enum = shape.enum
    if enum:
        if value not in enum:
            return [_fail(value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]")]
        return []
    errors = _length(value, shape.metadata, path)
    pattern = shape.metadata.get("pattern")
    if pattern and not _matches(pattern, value):
        errors.append(
            _fail(value, path, f"Member must satisfy regular expression pattern: {pattern}")
        )
    return errors


def _matches(pattern: str, value: str) -> bool:
    try:
        compiled = re.compile(pattern)
    except re.error:  # a Java-only construct: leave that check to the service
        return True
    return compiled.fullmatch(value) is not None


def _integer(value: Any, shape: Shape, path: str) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int):
        return [_fail(value, path, "Member must be an integer")]
    limits = shape.metadata
    if "min" in limits and value < limits["min"]:
        return [
            _fail(value, path, f"Member must have value greater than or equal to {limits['min']}")
        ]
    if "max" in limits and value > limits["max"]:
        return [_fail(value, path, f"Member must have value less than or equal to {limits['max']}")]
    return []
