"""Requests into (operation name, params), driven by the botocore service models.

JSON 1.1 (`sagemaker`): `POST /` with `X-Amz-Target: SageMaker.<Operation>` and a JSON body.
REST-JSON (`sagemaker-runtime`): the operation is found by method and URI template, and each
input member is read from where the model puts it (`uri`, `header`, `headers`,
`querystring`, the payload, or the JSON body). Params come out as boto3 would take them
(timestamps as aware datetimes, blobs as bytes) and are validated before they are returned.
Unknown JSON members and JSON nulls are dropped, as AWS's deserializer does.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import email.utils
import functools
import json
import re
from typing import Any

from smlocal.capture_sink.aws_shapes.java_text import quoted
from smlocal.capture_sink.aws_shapes.type_checks import type_problem
from smlocal.emulator.errors import SerializationException, UnknownOperationException
from smlocal.emulator.wire.transport import HttpRequest
from smlocal.emulator.wire.validation import validate

Params = dict[str, Any]


def parse_json_request(service_model: Any, request: HttpRequest) -> tuple[str, Params]:
    """The operation named by X-Amz-Target and its validated params."""
    operation_name = json_operation(service_model, request.header("X-Amz-Target"))
    shape = service_model.operation_model(operation_name).input_shape
    document = _json_document(request.body)
    params = decode_json(shape, document) if shape is not None else {}
    validate(service_model, operation_name, params)
    return operation_name, params


def json_operation(service_model: Any, target: str | None) -> str:
    """`SageMaker.CreateModel` → `CreateModel`; UnknownOperationException for anything else."""
    prefix, _, name = (target or "").partition(".")
    if prefix != service_model.metadata.get("targetPrefix") or name not in _operations(
        service_model
    ):
        raise UnknownOperationException()
    return name


@functools.cache
def _operations(service_model: Any) -> frozenset[str]:
    return frozenset(service_model.operation_names)


def _json_document(body: bytes) -> Any:
    if not body.strip():
        raise SerializationException()
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise SerializationException() from None


def decode_json(shape: Any, value: Any) -> Any:
    """A JSON value as boto3-style params; values of the wrong type are left for validation."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        decoded = {}
        for name, member in shape.members.items():
            raw = value.get(member.serialization.get("name", name))
            if raw is not None:
                decoded[name] = decode_json(member, raw)
        return decoded
    if kind == "list" and isinstance(value, list):
        return [None if item is None else decode_json(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, dict):
        return {k: None if v is None else decode_json(shape.value, v) for k, v in value.items()}
    return _decode_scalar(kind, value)


def _decode_scalar(kind: str, value: Any) -> Any:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind in ("integer", "long") and number:
        return int(value)  # Coral truncates a fractional number given for an integer
    # "NaN", "Infinity", "-Infinity": how botocore writes the numbers JSON has no literal for
    if kind in ("float", "double") and (number or value in ("NaN", "Infinity", "-Infinity")):
        return float(value)
    if kind == "boolean" and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if kind == "timestamp" and (isinstance(value, str) or number):
        parsed = _timestamp(value)
        if parsed is None:
            raise _conversion_error(kind, value)
        return parsed
    if kind == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise SerializationException(
                f"{quoted(value)} can not be converted to a Blob: invalid Base64"
            ) from None
    return value


def _timestamp(value: Any) -> dt.datetime | None:
    """Epoch seconds, ISO 8601 or an HTTP date as an aware datetime; None if it is none."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return dt.datetime.fromtimestamp(value, dt.UTC)
        except (OverflowError, ValueError, OSError):
            return None
    if not isinstance(value, str):
        return None
    try:
        return _timestamp(float(value))
    except ValueError:
        pass
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


# ---- REST-JSON --------------------------------------------------------------------------


def route(service_model: Any, method: str, path: str) -> tuple[str, dict[str, str]] | None:
    """The operation whose method and URI template match, with its URI labels; else None."""
    for operation_name, verb, pattern, labels in _routes(service_model):
        found = pattern.fullmatch(path) if verb == method.upper() else None
        if found is not None:
            return operation_name, {labels[g]: v for g, v in found.groupdict().items()}
    return None


@functools.cache
def _routes(service_model: Any) -> list[tuple[str, str, re.Pattern[str], dict[str, str]]]:
    routes = []
    for name in service_model.operation_names:
        http = service_model.operation_model(name).http
        template = http["requestUri"].split("?", 1)[0]
        literal = len(re.sub(r"\{[^}]*\}", "", template))
        routes.append((literal, name, http["method"], *_template_pattern(template)))
    # Templates with more literal text first, so `/a/{b}/c` wins over `/a/{b+}`.
    routes.sort(key=lambda r: -r[0])
    return [(name, method, pattern, labels) for _, name, method, pattern, labels in routes]


def _template_pattern(template: str) -> tuple[re.Pattern[str], dict[str, str]]:
    parts, labels = [], {}
    for index, piece in enumerate(re.split(r"(\{[^}]+\})", template)):
        if piece.startswith("{"):
            label, greedy = piece[1:-1].rstrip("+"), piece.endswith("+}")
            labels[f"g{index}"] = label
            parts.append(f"(?P<g{index}>{'.+' if greedy else '[^/]+'})")
        else:
            parts.append(re.escape(piece))
    return re.compile("".join(parts)), labels


def parse_rest_request(service_model: Any, request: HttpRequest) -> tuple[str, Params]:
    """The operation the method and path name, with its validated params."""
    matched = route(service_model, request.method, request.path)
    if matched is None:
        raise UnknownOperationException()
    operation_name, labels = matched
    shape = service_model.operation_model(operation_name).input_shape
    params: Params = {}
    if shape is not None:
        params = _located_members(shape, request, labels)
        params.update(_body_members(shape, request.body))
    validate(service_model, operation_name, params)
    return operation_name, params


def _located_members(shape: Any, request: HttpRequest, labels: dict[str, str]) -> Params:
    params: Params = {}
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        wire_name = member.serialization.get("name", name)
        if location == "uri" and wire_name in labels:
            params[name] = _from_text(member, labels[wire_name])
        elif location == "header" and request.header(wire_name) is not None:
            params[name] = _from_header(member, request.header(wire_name) or "")
        elif location == "headers":
            prefix = wire_name.lower()
            found = {
                k[len(prefix) :]: v for k, v in request.headers.items() if k.startswith(prefix)
            }
            if found:
                params[name] = found
        elif location == "querystring" and wire_name in request.query:
            values = request.query[wire_name]
            if member.type_name == "list":
                params[name] = [_from_text(member.member, v) for v in values]
            else:
                params[name] = _from_text(member, values[0])
    return params


def _body_members(shape: Any, body: bytes) -> Params:
    payload = shape.serialization.get("payload")
    if payload is not None:
        member = shape.members[payload]
        if member.type_name == "blob":
            return {payload: body}
        if member.type_name == "string":
            return {payload: body.decode("utf-8", "replace")} if body else {}
        return {payload: decode_json(member, _json_document(body))} if body.strip() else {}
    if not body.strip():
        return {}
    document = _json_document(body)
    if not isinstance(document, dict):
        raise _conversion_error("structure", document)
    unlocated = {
        name: member
        for name, member in shape.members.items()
        if "location" not in member.serialization
    }
    decoded = decode_json(shape, document)
    return {name: value for name, value in decoded.items() if name in unlocated}


def _from_header(shape: Any, raw: str) -> Any:
    if shape.type_name == "list":
        return [_from_text(shape.member, part.strip()) for part in raw.split(",")]
    return _from_text(shape, raw)


def _from_text(shape: Any, raw: str) -> Any:
    """A header, label or query value as its shape's Python type."""
    kind = shape.type_name
    try:
        if kind in ("integer", "long"):
            return int(raw)
        if kind in ("float", "double"):
            return float(raw)
    except ValueError:
        raise _conversion_error(kind, raw) from None
    if kind == "boolean":
        if raw.lower() not in ("true", "false"):
            raise _conversion_error(kind, raw)
        return raw.lower() == "true"
    if kind == "timestamp":
        parsed = _timestamp(raw)
        if parsed is None:
            raise _conversion_error(kind, raw)
        return parsed
    return raw


def _conversion_error(kind: str, value: Any) -> SerializationException:
    """Coral's message for a value of the wrong type; the fallback is an out-of-range date."""
    problem = type_problem(kind, value)
    return SerializationException(
        problem or f"{quoted(str(value))} can not be converted to an Date"
    )


def payload_limit(service_model: Any, operation_name: str) -> int | None:
    """The model's maximum size of the operation's blob payload (InvokeEndpoint: 6 MiB)."""
    shape = service_model.operation_model(operation_name).input_shape
    payload = None if shape is None else shape.serialization.get("payload")
    if payload is None:
        return None
    limit = shape.members[payload].metadata.get("max")
    return int(limit) if limit is not None else None
