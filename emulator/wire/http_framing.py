"""What the edge's HTTP server checks of a request head beyond what llhttp checks.

llhttp (through httptools) already refuses the framing that enables request smuggling: a
Content-Length next to a Transfer-Encoding, two Content-Lengths, a length that is not
digits, chunked that is not the last coding, bad chunk sizes, obs-fold, bare CR or LF, and
header names with spaces. It leaves to the server the rules that need the whole head
(RFC 9112 and RFC 9110 section numbers below): these run only for the rare heads that need
them, so the hot path pays one comparison or two.
"""

from __future__ import annotations

from smlocal.emulator.wire.http_limits import RawHeaders


class Refusal(Exception):
    """A request the server answers itself (status and message) without handling it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def request_target(method: str, url: bytes) -> tuple[str, str, bytes | None]:
    """Path, query and, for an absolute-form target (`GET http://host/path`), its authority,
    which replaces the Host header (RFC 9112 §3.2.2: a server MUST accept that form)."""
    text = url.decode("latin-1")
    if url[:1] == b"/":
        path, _, query = text.partition("?")
        return path, query, None
    if method == "CONNECT":  # its target is an authority (host:port)
        raise Refusal(501, "CONNECT is not supported: smlocal is not a proxy")
    if url == b"*":
        if method != "OPTIONS":
            raise Refusal(400, "only OPTIONS may have the request target *")
        return "*", "", None
    scheme, sep, rest = text.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        raise Refusal(400, "the request target must be a path or an http(s) URL")
    end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, rest = rest[:end], rest[end:]
    if not authority or "@" in authority:  # RFC 9110 §4.2.4: userinfo is an error
        raise Refusal(400, "the request target's URL must have a host and no user name")
    path, _, query = rest.partition("?")
    return path or "/", query, authority.encode("latin-1")


def with_host(headers: RawHeaders, authority: bytes) -> RawHeaders:
    """The headers with their Host replaced by an absolute-form target's authority."""
    return [(name, value) for name, value in headers if name != b"host"] + [(b"host", authority)]


def check_head(version: str, upgrade: bool, method: str, headers: RawHeaders) -> bool:
    """Refuse what no request may be; True when the connection must close after answering.

    - Only HTTP/1.x is spoken (505 otherwise; llhttp parses `HTTP/2.0` and HTTP/0.9 lines).
    - Exactly one Host header in HTTP/1.1, at most one in HTTP/1.0 (RFC 9112 §3.2: 400).
    - A Transfer-Encoding whose last coding is not chunked leaves the body's length unknown
      (RFC 9112 §6.3: 400 and close; llhttp would refuse it too, after this check); other
      codings before chunked are not implemented (RFC 9112 §6.1: 501 for `gzip, chunked`).
    - An HTTP/1.0 request with Transfer-Encoding is answered and then the connection
      closes (RFC 9112 §6.1: its framing is to be treated as faulty).
    - A protocol upgrade (`Upgrade` with `Connection: upgrade`) is ignored, as a server
      may (RFC 9110 §7.8): the request is answered over HTTP/1.1 and the connection closes,
      because llhttp reads nothing after it. llhttp does not read the body of such a
      request either, so one with a body is refused (CONNECT is, by `request_target`).
    """
    if not version.startswith("1."):
        raise Refusal(505, f"smlocal speaks HTTP/1.1, not HTTP/{version}")
    hosts = 0
    codings: list[bytes] = []
    has_body = False
    for name, value in headers:
        if name == b"host":
            hosts += 1
        elif name == b"transfer-encoding":
            codings += [c.strip().lower() for c in value.split(b",") if c.strip()]
            has_body = True
        elif name == b"content-length":
            has_body = has_body or value.strip() != b"0"
    if hosts > 1:
        raise Refusal(400, "a request may have one Host header")
    if hosts == 0 and version != "1.0":
        raise Refusal(400, "an HTTP/1.1 request must have a Host header")
    if codings and codings[-1] != b"chunked":
        raise Refusal(400, "the body's length is unknown: chunked must be the last coding")
    if codings and codings != [b"chunked"]:
        listed = b", ".join(codings).decode("latin-1")
        raise Refusal(501, f"only the chunked transfer coding is supported, not {listed}")
    if upgrade and has_body:
        raise Refusal(400, "a request that asks for a protocol upgrade cannot have a body")
    return upgrade or (bool(codings) and version == "1.0")
