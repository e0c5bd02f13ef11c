"""The model server serves the emulator and the clients on this machine, never a web page.

A multi-model server downloads and loads (unpickles) whatever model an invocation names, and
any server answers predictions; browsers reach loopback ports from any page, and a
DNS-rebinding page reaches them as "same origin". So, as the emulator's edge does
(`emulator/wire/guard.py`), requests whose Host is a name other than a loopback one, this
machine's or one in SMLOCAL_ALLOWED_HOSTS, and requests a browser marks as coming from a page
(`Origin`, `Sec-Fetch-Site: cross-site|same-site`) not listed in SMLOCAL_ALLOWED_ORIGINS, get
403 before they reach the app (and its capture). Clients that send neither header (the edge,
curl, urllib) pass; SMLOCAL_ALLOWED_HOSTS=* turns the Host check off.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# "model": the Host the emulator's edge sends with each invocation (no page can be served
# under a one-label name from public DNS)
_LOOPBACK_NAMES = ("localhost", "host.docker.internal", "model")


def host_name(host: str) -> str:
    """The name part of a Host header value, lower-case, without port or IPv6 brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def host_allowed(host: str, allowed: frozenset[str]) -> bool:
    """True for IP addresses, loopback names, this machine's name and the allowed names."""
    name = host_name(host)
    if not name or "*" in allowed or name in allowed:
        return True
    if name in _LOOPBACK_NAMES or name.endswith(".localhost"):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return name == socket.gethostname().lower()
    return True


class LocalOnly:
    """WSGI middleware refusing foreign host names and web pages with 403."""

    def __init__(
        self,
        app: WSGIApp,
        hosts: frozenset[str] = frozenset(),
        origins: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.hosts = hosts
        self.origins = origins

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        host = environ.get("HTTP_HOST")
        if host is not None and not host_allowed(host, self.hosts):
            return _deny(start_response, f"this model server does not serve the host name {host!r}")
        origin = environ.get("HTTP_ORIGIN")
        site = environ.get("HTTP_SEC_FETCH_SITE")
        if (origin is not None or site in ("cross-site", "same-site")) and not (
            origin is not None and ("*" in self.origins or origin in self.origins)
        ):
            return _deny(start_response, "this model server refuses requests from web pages")
        return self.app(environ, start_response)


def _deny(start_response: Callable[..., Any], why: str) -> list[bytes]:
    body = f"{why} (add it to SMLOCAL_ALLOWED_HOSTS or SMLOCAL_ALLOWED_ORIGINS to allow it)\n"
    data = body.encode()
    start_response(
        "403 Forbidden",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))],
    )
    return [data]
