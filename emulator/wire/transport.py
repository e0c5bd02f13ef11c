"""Framework-neutral HTTP request and response values: what the wire modules read and write."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


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

    def header(self, name: str) -> str | None:
        """A header's value by case-insensitive name."""
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class HttpResponse:
    """One response: status, headers in order, body bytes (the server adds Content-Length)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """A header's value by case-insensitive name."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)
