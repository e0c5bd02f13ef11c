"""Errors of the embedded services (moto) in each service's own wire shape.

moto answers an operation it has not implemented by raising `NotImplementedError`, and a
bug (or a missing optional dependency, such as CloudFormation's) by raising whatever it
raised; unrouted paths get Flask's HTML 404. None of that is something botocore can parse.
`AwsShapedErrors` wraps moto once: an exception, or an error answer whose body is not the
protocol's error shape, becomes the error a service of that protocol sends, with a message
that says smlocal does not emulate the operation: 501 `NotImplemented` for what moto lacks
(an operation, a route, a service it cannot import), not retried by botocore; 500
`InternalFailure` (S3: `InternalError`) for a crash, which botocore retries as it would
AWS's.

The protocol is read from the request itself, as botocore chose it: `smithy-protocol:
rpc-v2-cbor`, then `X-Amz-Target` (JSON 1.0/1.1), then a form with `Action` (query; EC2's
own variant for `ec2`), else REST, XML or JSON as the botocore model of the service the
request is signed for says.

| protocol | code read by botocore from | body |
|---|---|---|
| json | body `__type` (header `x-amzn-ErrorType` too) | `{"__type", "message"}` |
| rest-json | header `x-amzn-ErrorType` | `{"message"}` |
| rpc-v2-cbor | body `__type` | CBOR map |
| query | `ErrorResponse/Error/Code` | XML |
| ec2 | `Response/Errors/Error/Code` | XML |
| rest-xml | `Error/Code` (S3) or `ErrorResponse/Error/Code` | XML |
"""

from __future__ import annotations

import functools
import io
import json
import logging
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from smlocal.emulator.http_server import call_wsgi, reason

log = logging.getLogger(__name__)

WSGIApp = Callable[..., Iterable[bytes]]
Headers = list[tuple[str, str]]

# Signing names whose botocore service name differs (the model is looked up by the latter).
SIGNING_NAMES = {
    "monitoring": "cloudwatch",
    "email": "ses",
    "states": "stepfunctions",
    "execute-api": "apigateway",
    "eventbridge": "events",
    "mobiletargeting": "pinpoint",
}
_FORM = "application/x-www-form-urlencoded"
_JSON_1_1 = "application/x-amz-json-1.1"
_XML_PROTOCOLS = ("query", "ec2", "rest-xml")


@dataclass(frozen=True)
class Call:
    """What a request to the embedded services is, as far as its error shape needs."""

    protocol: str  # json, rest-json, rpc-v2-cbor, query, ec2, rest-xml
    service: str  # the signing name ("" when unsigned)
    operation: str  # the operation, or "METHOD /path" for REST
    json_content_type: str = _JSON_1_1


@dataclass(frozen=True)
class EmbeddedError:
    """An error to answer in a call's protocol."""

    status: int
    code: str
    message: str
    sender: bool = False  # the client's fault (query protocols' `Type`)


def classify(environ: dict[str, Any], form: dict[str, list[str]]) -> Call:
    """The protocol, service and operation of a WSGI request (form: its decoded form)."""
    service = signing_name(environ)
    if environ.get("HTTP_SMITHY_PROTOCOL", "").lower() == "rpc-v2-cbor":
        operation = environ.get("PATH_INFO", "").rsplit("/", 1)[-1]
        return Call("rpc-v2-cbor", service, operation)
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        content_type = environ.get("CONTENT_TYPE", "")
        json_type = content_type if content_type.startswith("application/x-amz-json") else ""
        return Call("json", service, target.rsplit(".", 1)[-1], json_type or _JSON_1_1)
    if "Action" in form:
        return Call("ec2" if service == "ec2" else "query", service, form["Action"][0])
    operation = f"{environ.get('REQUEST_METHOD', 'GET')} {environ.get('PATH_INFO', '/')}"
    return Call(rest_protocol(service), service, operation)


def signing_name(environ: dict[str, Any]) -> str:
    """The service a SigV4 request is signed for (header or presigned query), else ""."""
    credential = ""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if "Credential=" in auth:
        credential = auth.split("Credential=", 1)[1].split(",", 1)[0]
    else:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        credential = query.get("X-Amz-Credential", [""])[0]
    parts = credential.strip().split("/")
    return parts[3].lower() if len(parts) == 5 else ""


@functools.lru_cache(maxsize=64)
def rest_protocol(service: str) -> str:
    """rest-xml or rest-json, as botocore's model of the service says (unsigned: S3's XML)."""
    if not service or service == "s3":
        return "rest-xml"
    import botocore.session
    from botocore.exceptions import UnknownServiceError

    try:
        name = SIGNING_NAMES.get(service, service)
        model = botocore.session.get_session().get_service_model(name)
    except UnknownServiceError:
        return "rest-json"
    protocol = str(model.protocol)
    return protocol if protocol in ("rest-xml", "rest-json") else "rest-json"


def render(call: Call, error: EmbeddedError, request_id: str) -> tuple[int, Headers, bytes]:
    """The HTTP answer of an error in the call's protocol."""
    if call.protocol in _XML_PROTOCOLS:
        return error.status, _xml_headers(call, request_id), _xml_body(call, error, request_id)
    headers = [("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", error.code)]
    if call.protocol == "rpc-v2-cbor":
        headers += [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
        document = {"__type": error.code, "message": error.message}
        return error.status, headers, cbor_text_map(document)
    if call.protocol == "json":
        headers.append(("Content-Type", call.json_content_type))
        body = {"__type": error.code, "message": error.message}
    else:
        headers.append(("Content-Type", "application/json"))
        body = {"message": error.message, "Message": error.message}
    return error.status, headers, json.dumps(body).encode()


def _xml_headers(call: Call, request_id: str) -> Headers:
    headers = [("Content-Type", "text/xml" if call.protocol != "rest-xml" else "application/xml")]
    if call.service in ("s3", ""):
        return [*headers, ("x-amz-request-id", request_id)]
    return [*headers, ("x-amzn-RequestId", request_id)]


def _xml_body(call: Call, error: EmbeddedError, request_id: str) -> bytes:
    code, message, rid = escape(error.code), escape(error.message), escape(request_id)
    inner = f"<Code>{code}</Code><Message>{message}</Message>"
    if call.protocol == "ec2":
        text = (f"<Response><Errors><Error>{inner}</Error></Errors>"
                f"<RequestID>{rid}</RequestID></Response>")  # fmt: skip
    elif call.protocol == "rest-xml" and call.service in ("s3", ""):
        text = f"<Error>{inner}<RequestId>{rid}</RequestId></Error>"
    else:
        kind = "Sender" if error.sender else "Receiver"
        text = (f"<ErrorResponse><Error><Type>{kind}</Type>{inner}</Error>"
                f"<RequestId>{rid}</RequestId></ErrorResponse>")  # fmt: skip
    return f'<?xml version="1.0" encoding="UTF-8"?>\n{text}'.encode()


def cbor_text_map(document: dict[str, str]) -> bytes:
    """A CBOR map of text strings (RFC 8949 major types 5 and 3), all RPC v2 errors need."""
    out = bytearray(_cbor_head(5, len(document)))
    for key, value in document.items():
        for text in (key, value):
            data = text.encode()
            out += _cbor_head(3, len(data)) + data
    return bytes(out)


def _cbor_head(major: int, length: int) -> bytes:
    if length < 24:
        return bytes([major << 5 | length])
    for extra, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if length < 1 << (8 * size):
            return bytes([major << 5 | extra]) + length.to_bytes(size, "big")
    raise ValueError("too long for CBOR")


def is_shaped(call: Call, status: int, headers: Headers, body: bytes) -> bool:
    """True when an error answer is one botocore reads a code from (or has no body at all,
    as HEAD answers and some S3 errors do)."""
    if status < 400 or not body.strip():
        return True
    if call.protocol == "rpc-v2-cbor":
        return any(k.lower() == "content-type" and "cbor" in v for k, v in headers)
    if call.protocol in _XML_PROTOCOLS:
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError:
            return False
        return any(element.tag.rsplit("}", 1)[-1] == "Code" for element in root.iter())
    try:
        document = json.loads(body)
    except ValueError:
        return False
    return isinstance(document, dict)


def not_emulated(call: Call, exc: BaseException | None = None, detail: str = "") -> EmbeddedError:
    """The error for an operation moto lacks (501 NotImplemented: not implemented, or a
    service whose optional dependencies are not installed) or failed on (500)."""
    service = SIGNING_NAMES.get(call.service, call.service) or "s3"
    if isinstance(exc, ImportError):
        detail = f"its embedded moto cannot load the service: {type(exc).__name__}: {exc}"
    if exc is None or isinstance(exc, NotImplementedError | ImportError):
        why = f" ({detail})" if detail else ""
        message = f"smlocal does not emulate {service} {call.operation}{why}"
        return EmbeddedError(501, "NotImplemented", message)
    code = "InternalError" if call.protocol == "rest-xml" and service == "s3" else "InternalFailure"
    message = (f"smlocal's embedded moto failed on {service} {call.operation} "
               f"({type(exc).__name__}: {exc}); smlocal does not emulate this request")  # fmt: skip
    return EmbeddedError(500, code, message)


def request_form(environ: dict[str, Any]) -> dict[str, list[str]]:
    """The request's query string and form body as parse_qs reads them; a form body that is
    read is put back for the app."""
    form = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if not environ.get("CONTENT_TYPE", "").startswith(_FORM):
        return form
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    for key, values in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items():
        form.setdefault(key, []).extend(values)
    return form


class AwsShapedErrors:
    """WSGI middleware around the embedded services: every error answer is AWS-shaped."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        call = classify(environ, request_form(environ))
        try:
            status, headers, body = call_wsgi(self.app, environ)
        except Exception as exc:
            log.exception("the embedded services failed on %s %s", call.service, call.operation)
            status, headers, body = render(call, not_emulated(call, exc), new_request_id())
        else:
            if not is_shaped(call, status, headers, body):
                status, headers, body = self._reshape(call, status, body)
        start_response(f"{status} {reason(status)}", headers)
        return [body]

    def _reshape(self, call: Call, status: int, body: bytes) -> tuple[int, Headers, bytes]:
        """An unparseable error answer: an unrouted path (404, 405) is an operation moto
        lacks; anything else a failure, with moto's text in the message."""
        text = body[:200].decode("utf-8", "replace").strip()
        log.warning("the embedded services answered %d with no AWS error: %r", status, text)
        if status in (404, 405):
            error = not_emulated(call, None, "the embedded moto has no route for it")
        else:
            error = not_emulated(call, RuntimeError(f"HTTP {status}: {text}"))
        return render(call, error, new_request_id())


def new_request_id() -> str:
    """A request id (a UUID, as most services send)."""
    return str(uuid.uuid4())
