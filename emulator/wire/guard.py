"""Local only, by construction: the edge serves the clients on this machine, never a web page.

The emulator runs code on the developer's behalf (a scikit-learn model is unpickled when it
loads, exactly as the real container does), so a page that could reach its API could run
code as the developer. Browsers reach loopback from any page, so every request passes here
first:

- **Host** must be an IP address (a DNS-rebinding page can only send its own name), a
  loopback name (`localhost`, `*.localhost`), this machine's own name, `host.docker.internal`
  (the Docker backend's containers), or a name in `SMLOCAL_ALLOWED_HOSTS`.
- **Origin**, when a browser sends one, must be the emulator's own (a page it served) or in
  `SMLOCAL_ALLOWED_ORIGINS`; `Sec-Fetch-Site: cross-site|same-site` without such an origin
  (a `no-cors` request of a foreign page) is refused too.
- **CORS preflights** are answered here, granting only allowed origins; moto's own CORS
  handling (which echoes any origin) is never reached.
- **/moto-api/** (moto's dashboard, data and reset) answers only with `SMLOCAL_MOTO_API=1`,
  however its path is spelled; moto's `x-moto-account-id` header is dropped (AWS has no
  such header, and it would pick the folder an S3 bucket is stored in).

Clients that send neither header (boto3, the AWS CLI, the SDK, curl) are served as before.
The Host and Origin rules a model server applies too are `smlocal.local_rules`.
"""

from __future__ import annotations

import ipaddress
import posixpath
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from smlocal.emulator.errors import AWSError
from smlocal.emulator.runtime.invoke import Runtime
from smlocal.emulator.settings import EmulatorSettings
from smlocal.emulator.wire.http_server import Handler, Headers, Request, Respond
from smlocal.emulator.wire.responses import json_error, new_request_id, rest_error
from smlocal.local_rules import from_refused_page, host_allowed, origin_listed

_PREFLIGHT_MAX_AGE = "600"
_EXPOSED = "x-amzn-RequestId, x-amzn-ErrorType, x-Amzn-Invoked-Production-Variant, ETag"
_CORS_NAMES = ("access-control-", "vary")


class AccessDeniedException(AWSError):
    """A request the trust rules refuse (a foreign page or host name)."""

    status = 403


@dataclass(frozen=True)
class Trust:
    """Which host names and origins the edge serves."""

    port: int
    hosts: frozenset[str] = frozenset()  # extra names, lower-case; "*" allows any
    origins: frozenset[str] = frozenset()  # extra origins, as browsers send them; "*" any
    moto_api: bool = False
    bind: str = "127.0.0.1"  # the address the edge listens on

    def host_allowed(self, host: str) -> bool:
        """True for IP literals, loopback names, this machine's name and the listed names."""
        return host_allowed(host, self.hosts)

    def origin_allowed(self, origin: str) -> bool:
        """True for the listed origins and for pages the emulator itself served: http on its
        port at a loopback name or address, the address it binds, or a listed host name.
        (Any IP address is a safe Host, but not a safe Origin: a page at
        http://203.0.113.7:4599 is someone else's server.)"""
        if origin_listed(origin, self.origins):
            return True
        parts = urlsplit(origin)
        try:
            port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        except ValueError:
            return False
        if parts.scheme != "http" or port != self.port or parts.hostname is None:
            return False
        name = parts.hostname.lower()
        if name == "localhost" or name.endswith(".localhost") or name in self.hosts:
            return True
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            return False
        return address.is_loopback or name == self.bind


class LocalOnly:
    """The edge's first handler: refuses what the trust rules refuse, answers preflights."""

    def __init__(self, handler: Handler, trust: Trust) -> None:
        self.handler = handler
        self.trust = trust

    def __getattr__(self, name: str) -> Any:
        return getattr(self.handler, name)  # hooks of the inner handler (body limits, ...)

    def __call__(self, request: Request, respond: Respond) -> None:
        host = _text(request.header(b"host"))
        if host is not None and not self.trust.host_allowed(host):
            _deny(
                request,
                respond,
                f"smlocal does not serve the host name {_quote(host)}: only IP addresses, "
                "loopback names and the names in SMLOCAL_ALLOWED_HOSTS are served (this stops "
                "DNS rebinding).",
            )
            return
        origin = _text(request.header(b"origin"))
        site = _text(request.header(b"sec-fetch-site"))
        if from_refused_page(origin, site, self.trust.origin_allowed):
            where = f"the web page at {_quote(origin)}" if origin else "a web page of another site"
            _deny(
                request,
                respond,
                f"smlocal refuses requests from {where}: web pages may not drive the emulator. "
                "To allow a page you trust, add its origin to SMLOCAL_ALLOWED_ORIGINS.",
            )
            return
        _drop_header(request, b"x-moto-account-id")
        if _is_moto_api(request.path) and not self.trust.moto_api:
            respond(
                404,
                [("Content-Type", "text/plain; charset=utf-8")],
                b"moto's /moto-api/ is off; start smlocal with SMLOCAL_MOTO_API=1 to use it\n",
            )
            return
        if origin is None:
            self.handler(request, respond)
            return
        if request.method == "OPTIONS" and request.header(b"access-control-request-method"):
            respond(204, _preflight(origin, request), b"")
            return
        self.handler(request, _with_cors(respond, origin))


def _is_moto_api(path: str) -> bool:
    """True for moto's own API however the path is spelled (moto sees it decoded)."""
    decoded = posixpath.normpath("/" + unquote(path).lstrip("/"))
    return decoded == "/moto-api" or decoded.startswith("/moto-api/")


def _drop_header(request: Request, name: bytes) -> None:
    """Drop a header however it is spelled (WSGI reads `_` and `-` in names alike)."""
    size = len(name)  # a plain loop: this runs for every request the edge serves
    for key, _ in request.headers:
        if len(key) == size and key.replace(b"_", b"-") == name:
            break
    else:
        return
    request.headers = [
        (key, value) for key, value in request.headers if key.replace(b"_", b"-") != name
    ]


def _preflight(origin: str, request: Request) -> Headers:
    asked = _text(request.header(b"access-control-request-headers")) or ""
    headers = [
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Allow-Methods", "GET, HEAD, PUT, POST, DELETE"),
        ("Access-Control-Max-Age", _PREFLIGHT_MAX_AGE),
        ("Vary", "Origin"),
    ]
    if asked:
        headers.append(("Access-Control-Allow-Headers", asked))
    return headers


def _with_cors(respond: Respond, origin: str) -> Respond:
    """respond, with CORS headers for this allowed origin instead of whatever moto set."""

    def answer(status: int, headers: Headers, body: bytes) -> None:
        kept = [(k, v) for k, v in headers if not k.lower().startswith(_CORS_NAMES)]
        kept += [
            ("Access-Control-Allow-Origin", origin),
            ("Access-Control-Expose-Headers", _EXPOSED),
            ("Vary", "Origin"),
        ]
        respond(status, kept, body)

    return answer


def _deny(request: Request, respond: Respond, message: str) -> None:
    """403 in the shape of the API the request was for."""
    error = AccessDeniedException(message)
    request_id = new_request_id()
    target = request.header(b"x-amz-target")
    if target is not None and target.startswith(b"SageMaker."):
        response = json_error(error, request_id)
    elif Runtime.matches(request):
        response = rest_error(error, request_id)
    else:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
            f"<Message>{_xml(message)}</Message><RequestId>{request_id}</RequestId></Error>"
        )
        respond(403, [("Content-Type", "application/xml")], body.encode())
        return
    respond(response.status, list(response.headers), response.body)


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


def _quote(value: str, limit: int = 100) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "…")


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def trust_from_settings(settings: EmulatorSettings) -> Trust:
    """The trust rules of the emulator's settings."""
    return Trust(
        port=settings.port,
        hosts=frozenset(h.lower() for h in settings.allowed_hosts),
        origins=frozenset(settings.allowed_origins),
        moto_api=settings.moto_api,
        bind=settings.host,
    )
