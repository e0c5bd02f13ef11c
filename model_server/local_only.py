"""The model server serves the emulator and the clients on this machine, never a web page.

A multi-model server downloads and loads (unpickles) whatever model an invocation names, and
any server answers predictions; browsers reach loopback ports from any page, and a
DNS-rebinding page reaches them as "same origin". So, as the emulator's edge does
(`emulator/wire/guard.py`), requests whose Host is a name other than a loopback one, this
machine's or one in SMLOCAL_ALLOWED_HOSTS, and requests a browser marks as coming from a page
(`Origin`, `Sec-Fetch-Site: cross-site|same-site`) not listed in SMLOCAL_ALLOWED_ORIGINS, get
403 before they reach the app (and its capture). Clients that send neither header (the edge,
curl, urllib) pass; SMLOCAL_ALLOWED_HOSTS=* turns the Host check off. The rules themselves
are `smlocal.local_rules`, which the edge applies too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from smlocal.local_rules import LOOPBACK_NAMES, from_refused_page, origin_listed
from smlocal.local_rules import host_allowed as _host_allowed

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
# "model": the Host the emulator's edge sends with each invocation (no page can be served
# under a one-label name from public DNS)
_LOOPBACK_NAMES = (*LOOPBACK_NAMES, "model")


def host_allowed(host: str, allowed: frozenset[str]) -> bool:
    """True for IP addresses, loopback names (the edge's `model` too), this machine's name and
    the allowed names."""
    return _host_allowed(host, allowed, _LOOPBACK_NAMES)


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
        origin, site = environ.get("HTTP_ORIGIN"), environ.get("HTTP_SEC_FETCH_SITE")
        if from_refused_page(origin, site, self._origin_allowed):
            return _deny(start_response, "this model server refuses requests from web pages")
        return self.app(environ, start_response)

    def _origin_allowed(self, origin: str) -> bool:
        return origin_listed(origin, self.origins)


def _deny(start_response: Callable[..., Any], why: str) -> list[bytes]:
    body = f"{why} (add it to SMLOCAL_ALLOWED_HOSTS or SMLOCAL_ALLOWED_ORIGINS to allow it)\n"
    data = body.encode()
    start_response(
        "403 Forbidden",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(data)))],
    )
    return [data]
