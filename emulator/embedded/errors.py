"""Errors of the embedded services (moto) in each service's own wire shape.

moto answers an operation it has not implemented by raising `NotImplementedError`, and a
bug (or a missing optional dependency, such as CloudFormation's) by raising whatever it
raised; unrouted paths get Flask's HTML 404. None of that is something botocore can parse.
`AwsShapedErrors` wraps moto once: an exception, or an error answer whose body is not the
protocol's error shape, becomes the error a service of that protocol sends, with a message
that says smlocal does not emulate the operation: 501 `NotImplemented` for what moto lacks
(an operation, a route, a service it cannot import), not retried by botocore; 500
`InternalFailure` (S3: `InternalError`) for a crash, which botocore retries as it would
AWS's. A body moto cannot read (JSON that is not an object, CBOR or XML that does not
parse, base64 that is not) is the client's fault: 400 in the protocol's code for it
(`SerializationException`, `MalformedXML`, `InvalidParameterValue`), so no SDK retries it.
A query action the service does not have is 400 `InvalidAction`, a query with no action
400 `MissingAction`, as AWS's query services answer. Each 400 for an unreadable body is
logged (warning) with the service, operation and reason.

moto's empty 404 is ambiguous: its generic dispatcher answers it to a request it cannot map
to an operation (not emulated: 501), while S3's handlers answer it to a request of an
operation they implement but cannot act on (PutBucketVersioning with no `<Status>`). The
request is matched against botocore's model of the service (moto's router): an empty 404
for a modeled operation came from moto's implementation of it (an operation moto lacks
raises `NotImplementedError` before answering), so it stays a 404, in the service's shape.

The protocol is read from the request itself, as botocore chose it: `smithy-protocol:
rpc-v2-cbor`, then `X-Amz-Target` (JSON 1.0/1.1), then a form with `Action` (query; EC2's
own variant for `ec2`), else the protocol botocore's model of the service the request is
signed for names (an unsigned request: STS's or Cognito's, read from its version or target).

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

import binascii
import functools
import io
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs
from xml.etree import ElementTree
from xml.parsers.expat import ExpatError
from xml.sax.saxutils import escape

from moto.core.parse import RequestParserError

from smlocal.capture_sink.aws_shapes.models import service_model
from smlocal.emulator.wire.http_server import reason
from smlocal.emulator.wire.wsgi_bridge import WSGIApp, call_wsgi

log = logging.getLogger(__name__)

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
# AWS serves only STS's AssumeRoleWithSAML/AssumeRoleWithWebIdentity unsigned over the query
# protocol, and Cognito's identity operations unsigned over JSON: unsigned, these name the
# service an error is about.
UNSIGNED_QUERY_VERSIONS = {"2011-06-15": "sts"}
UNSIGNED_TARGET_PREFIXES = {
    "AWSCognitoIdentityService": "cognito-identity",
    "AWSCognitoIdentityProviderService": "cognito-idp",
}
# What moto raises when it cannot read a request's body (the client's fault, not a crash).
_UNREADABLE = (json.JSONDecodeError, ElementTree.ParseError, ExpatError, binascii.Error,
               UnicodeDecodeError, RequestParserError)  # fmt: skip


@dataclass(frozen=True)
class Call:
    """What a request to the embedded services is, as far as its error shape needs."""

    protocol: str  # json, rest-json, rpc-v2-cbor, query, ec2, rest-xml
    service: str  # the signing name ("" when unsigned)
    operation: str  # the operation, or "METHOD /path" for REST
    json_content_type: str = _JSON_1_1
    by_action: bool = False  # a query request that named its Action


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
        prefix, _, operation = target.rpartition(".")
        service = service or UNSIGNED_TARGET_PREFIXES.get(prefix, "")
        return Call("json", service, operation, json_type or _JSON_1_1)
    if "Action" in form:
        service = service or UNSIGNED_QUERY_VERSIONS.get(form.get("Version", [""])[0], "")
        protocol = "ec2" if service == "ec2" else "query"
        return Call(protocol, service, form["Action"][0], by_action=True)
    operation = f"{environ.get('REQUEST_METHOD', 'GET')} {environ.get('PATH_INFO', '/')}"
    return Call(model_protocol(service), service, operation)


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
def model_protocol(service: str) -> str:
    """The error protocol of a request with no target or action: rest-xml, query or ec2 as
    botocore's model of the service says, else rest-json (unsigned: S3's XML)."""
    if not service or service == "s3":
        return "rest-xml"
    model = signed_service_model(service)
    protocol = str(model.protocol) if model is not None else ""
    return protocol if protocol in ("rest-xml", "query", "ec2") else "rest-json"


def signed_service_model(service: str) -> Any:
    """botocore's model of the service a request is signed for (None if it has none)."""
    from botocore.exceptions import UnknownServiceError

    try:
        return service_model(SIGNING_NAMES.get(service, service))
    except UnknownServiceError:
        return None


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
    service whose optional dependencies are not installed), a request it cannot read (400)
    or one it failed on (500)."""
    service = SIGNING_NAMES.get(call.service, call.service) or "s3"
    if isinstance(exc, _UNREADABLE):
        return unreadable(call, f"{type(exc).__name__}: {exc}", xml=_is_xml_error(exc))
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


def unreadable(call: Call, detail: str, xml: bool = False) -> EmbeddedError:
    """400 for a request whose body the service cannot read, in its protocol's code."""
    service = SIGNING_NAMES.get(call.service, call.service) or "s3"
    message = f"smlocal could not read the request to {service} {call.operation}: {detail}"
    if call.protocol in ("query", "ec2"):
        return EmbeddedError(400, "InvalidParameterValue", message, sender=True)
    if call.protocol == "rest-xml":
        code = "MalformedXML" if xml else "InvalidRequest" if service == "s3" else "InvalidInput"
        return EmbeddedError(400, code, message, sender=True)
    return EmbeddedError(400, "SerializationException", message, sender=True)


def _is_xml_error(exc: BaseException) -> bool:
    return isinstance(exc, ElementTree.ParseError | ExpatError)


def unknown_action(call: Call) -> EmbeddedError | None:
    """A query request with no Action (400 MissingAction), or one naming an action the
    service does not have (400 InvalidAction); None for other requests."""
    if call.protocol not in ("query", "ec2"):
        return None
    if not call.by_action:
        message = "The request is missing an action or a required parameter."
        return EmbeddedError(400, "MissingAction", message, sender=True)
    model = signed_service_model(call.service) if call.service else None
    if model is None or call.operation in model.operation_names:
        return None
    message = f"The action {call.operation} is not valid for this web service."
    return EmbeddedError(400, "InvalidAction", message, sender=True)


def json_body_error(call: Call, environ: dict[str, Any]) -> EmbeddedError | None:
    """A JSON-protocol body that is not a JSON object (botocore always sends one)."""
    if call.protocol != "json" or environ.get("HTTP_CONTENT_ENCODING"):
        return None  # a compressed body (botocore gzips those above 10 KB) is moto's to read
    body = request_body(environ)
    if not body.strip():
        return None
    try:
        document = json.loads(body)
    except ValueError as exc:
        return unreadable(call, str(exc))
    if not isinstance(document, dict):
        return unreadable(call, f"the body is a JSON {type(document).__name__}, not an object")
    return None


def moto_operation(call: Call, environ: dict[str, Any]) -> str | None:
    """The operation of botocore's model a REST request maps to, as moto's router matches
    it (None: none, or not a REST request)."""
    if call.protocol not in ("rest-json", "rest-xml"):
        return None
    try:
        router = _router(SIGNING_NAMES.get(call.service, call.service) or "s3")
        operation, _ = router.match(_routing_request(dict(environ)))
    except Exception:  # no route (werkzeug's NotFound), or a service moto's router lacks
        return None
    return str(operation.name)


@functools.lru_cache(maxsize=16)
def _router(service: str) -> Any:
    from moto.core.routing import get_service_router

    return get_service_router(service)


def _routing_request(environ: dict[str, Any]) -> Any:
    from moto.core.request import Request

    environ["wsgi.input"] = io.BytesIO(b"")  # routing reads the method, path, query, headers
    return Request(environ)


def implemented_but_refused(call: Call, operation: str, status: int) -> EmbeddedError:
    """The error for an empty 404/405 moto answered to an operation it implements."""
    service = SIGNING_NAMES.get(call.service, call.service) or "s3"
    message = (f"smlocal's embedded moto could not act on {service} {operation} "
               f"({call.operation}) as sent; it answered {status} with no error")  # fmt: skip
    code = "NotFound" if status == 404 else "MethodNotAllowed"
    return EmbeddedError(status, code, message, sender=True)


def request_body(environ: dict[str, Any]) -> bytes:
    """The request's body, read whole and put back for the app."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return bytes(body)


def request_form(environ: dict[str, Any]) -> dict[str, list[str]]:
    """The request's query string and form body as parse_qs reads them; a form body that is
    read is put back for the app."""
    form = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if not environ.get("CONTENT_TYPE", "").startswith(_FORM):
        return form
    body = request_body(environ)
    for key, values in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items():
        form.setdefault(key, []).extend(values)
    return form


class AwsShapedErrors:
    """WSGI middleware around the embedded services: every error answer is AWS-shaped."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        call = classify(environ, request_form(environ))
        refused = json_body_error(call, environ)
        if refused is not None:
            log_refusal(refused)
            status, headers, body = render(call, refused, new_request_id())
            start_response(f"{status} {reason(status)}", headers)
            return [body]
        try:
            status, headers, body = call_wsgi(self.app, environ)
        except Exception as exc:
            error = not_emulated(call, exc)
            if isinstance(exc, _UNREADABLE):
                log_refusal(error)
            else:
                log.exception("the embedded services failed on %s %s", call.service, call.operation)
            status, headers, body = render(call, error, new_request_id())
        else:
            # An empty 404/405 (not to HEAD) is moto's "no such action" answer, or an
            # implemented operation's refusal (see _reshape).
            unrouted = status in (404, 405) and environ.get("REQUEST_METHOD") != "HEAD"
            if not is_shaped(call, status, headers, body) or (unrouted and not body.strip()):
                status, headers, body = self._reshape(call, status, body, environ)
        start_response(f"{status} {reason(status)}", headers)
        return [body]

    def _reshape(
        self, call: Call, status: int, body: bytes, environ: dict[str, Any]
    ) -> tuple[int, Headers, bytes]:
        """An unparseable error answer: an unrouted path (404, 405) is a query action the
        service lacks or an operation moto lacks, unless moto answered it empty for an
        operation it implements; anything else a failure, with moto's text in the message."""
        text = body[:200].decode("utf-8", "replace").strip()
        log.warning("the embedded services answered %d with no AWS error: %r", status, text)
        if status in (404, 405):
            operation = None if text else moto_operation(call, environ)
            if operation is not None:
                error = implemented_but_refused(call, operation, status)
            else:
                error = unknown_action(call) or not_emulated(
                    call, None, "the embedded moto has no route for it"
                )
        else:
            error = not_emulated(call, RuntimeError(f"HTTP {status}: {text}"))
        return render(call, error, new_request_id())


def log_refusal(error: EmbeddedError) -> None:
    """One warning line for a request refused as unreadable: why the user's call failed."""
    message = " ".join(error.message.split())  # names the service, operation and reason
    log.warning("answered %d %s: %s", error.status, error.code, message)


def new_request_id() -> str:
    """A request id (a UUID, as most services send)."""
    return str(uuid.uuid4())
