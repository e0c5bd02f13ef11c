"""Framework-neutral HTTP request and response values, with their WSGI adapters."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from smlocal.emulator.wire.http_server import reason

StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class HttpRequest:
    """One request: method, percent-decoded path, lower-cased header names, body, query."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    query: Mapping[str, list[str]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        method: str,
        path: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        query: Mapping[str, list[str]] | None = None,
    ) -> HttpRequest:
        """A request from headers in any case (repeated names are joined with `, `)."""
        pairs = headers.items() if isinstance(headers, Mapping) else headers
        merged: dict[str, str] = {}
        for name, value in pairs:
            key = name.lower()
            merged[key] = f"{merged[key]}, {value}" if key in merged else value
        return cls(method.upper(), path, merged, body, dict(query or {}))

    @classmethod
    def from_raw(
        cls, method: str, path: str, headers: Iterable[tuple[bytes, bytes]], body: bytes
    ) -> HttpRequest:
        """A request from the edge server's raw (latin-1 byte) headers."""
        text = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers]
        return cls.build(method, path, text, body)

    @classmethod
    def from_environ(cls, environ: Mapping[str, Any]) -> HttpRequest:
        """Read a WSGI request, body included (empty CONTENT_TYPE means no Content-Type)."""
        headers = [
            (key[5:].replace("_", "-"), value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        ]
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers.append((key.replace("_", "-"), environ[key]))
        raw_path = environ.get("PATH_INFO", "") or "/"
        path = raw_path.encode("latin-1").decode("utf-8", "replace")  # PEP 3333 native string
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        return cls.build(environ["REQUEST_METHOD"], path, headers, _read_body(environ), query)

    def header(self, name: str) -> str | None:
        """A header's value by case-insensitive name."""
        return self.headers.get(name.lower())


def _read_body(environ: Mapping[str, Any]) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        return bytes(stream.read(length))
    if environ.get("wsgi.input_terminated"):
        return bytes(stream.read())
    return b""


@dataclass(frozen=True)
class HttpResponse:
    """One response: status, headers in order, body bytes (Content-Length is added here)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """A header's value by case-insensitive name."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)

    @property
    def status_line(self) -> str:
        """`424 Failed Dependency`; statuses unknown to Python (530) get a generic reason."""
        return f"{self.status} {reason(self.status)}"

    def wsgi(self, start_response: StartResponse) -> list[bytes]:
        """Answer a WSGI call with this response."""
        headers = [*self.headers, ("Content-Length", str(len(self.body)))]
        start_response(self.status_line, headers)
        return [self.body]
