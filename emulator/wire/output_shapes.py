"""Operation results into AWS output documents, driven by the botocore service models.

The control plane returns plain dicts keyed by AWS member names (PascalCase), with
datetimes for timestamps and bytes for blobs; `None` means "absent" and is dropped.
`shape_output` makes the JSON 1.1 document (timestamps as epoch seconds with milliseconds,
`1529870369.986`). With `strict=True` (tests, debug) a key the output shape does not
declare, a value of the wrong type or a value outside its enum raises `OutputShapeError`,
so the emulator cannot drift from what botocore parses; without it unknown keys are
dropped, as botocore would ignore them. (The runtime's REST-JSON answers are written by
`smlocal.emulator.runtime.invoke` itself: a model's bytes and a few headers.)
"""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
from collections.abc import Mapping
from typing import Any

from smlocal.capture_sink.aws_shapes.type_checks import type_problem


class OutputShapeError(Exception):
    """A result does not fit the operation's output shape: a bug in the emulator."""


def shape_output(
    service_model: Any, operation_name: str, result: Mapping[str, Any], *, strict: bool = False
) -> dict[str, Any]:
    """The JSON 1.1 response document for an operation's result."""
    shape = service_model.operation_model(operation_name).output_shape
    if shape is None:
        if strict and any(v is not None for v in result.values()):
            raise OutputShapeError(f"{operation_name} has no output, got {sorted(result)}")
        return {}
    shaped: dict[str, Any] = _shape(shape, result, operation_name, strict)
    return shaped


def _shape(shape: Any, value: Any, path: str, strict: bool) -> Any:
    kind = shape.type_name
    if strict:
        _check_type(shape, value, path)
    if kind == "structure" and isinstance(value, Mapping):
        return _shape_structure(shape, value, path, strict)
    if kind == "list" and isinstance(value, list | tuple):
        return [
            _shape(shape.member, item, f"{path}[{i}]", strict)
            for i, item in enumerate(value)
            if item is not None
        ]
    if kind == "map" and isinstance(value, Mapping):
        return {
            k: _shape(shape.value, v, f"{path}.{k}", strict)
            for k, v in value.items()
            if v is not None
        }
    if kind == "timestamp":
        return _timestamp(value, shape.serialization.get("timestampFormat", "unixTimestamp"))
    if kind == "blob" and isinstance(value, bytes | bytearray | str):
        raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        return base64.b64encode(raw).decode("ascii")
    return value


def _shape_structure(
    shape: Any, value: Mapping[str, Any], path: str, strict: bool
) -> dict[str, Any]:
    shaped = {}
    for key, item in value.items():
        if item is None:
            continue
        member = shape.members.get(key)
        if member is None:
            if strict:
                raise OutputShapeError(f"{path}.{key} is not a member of {shape.name}")
            continue
        shaped[member.serialization.get("name", key)] = _shape(
            member, item, f"{path}.{key}", strict
        )
    return shaped


def _check_type(shape: Any, value: Any, path: str) -> None:
    problem = type_problem(shape.type_name, value)
    if problem is not None:
        raise OutputShapeError(f"{path} does not fit {shape.name} ({shape.type_name}): {problem}")
    enum = shape.metadata.get("enum")
    if enum and value not in enum:
        raise OutputShapeError(f"{path} = {value!r} is not in the enum of {shape.name}")


def _timestamp(value: Any, timestamp_format: str) -> Any:
    """A datetime (naive means UTC) or epoch number in the model's timestamp format."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = dt.datetime.fromtimestamp(value, dt.UTC)
    if not isinstance(value, dt.datetime):
        return value
    moment = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if timestamp_format == "iso8601":
        return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    if timestamp_format == "rfc822":
        return email.utils.format_datetime(moment.astimezone(dt.UTC), usegmt=True)
    return round(moment.timestamp(), 3)
