"""Who may call a local server: the Host and Origin rules the emulator's edge
(`emulator/wire/guard.py`) and each model server (`model_server/local_only.py`) apply alike.

Browsers reach loopback ports from any page, and a DNS-rebinding page reaches them under its
own name as "same origin". So a Host must be an IP address (a rebinding page can only send its
own name), a loopback name, this machine's own name, or a listed one; and a request a browser
marks as coming from a page (`Origin`, or `Sec-Fetch-Site: cross-site|same-site` on a
`no-cors` request) must come from an allowed origin. Clients that send neither header (boto3,
the AWS CLI, the SDK, curl, the edge itself) pass. Imports nothing of ours: anyone may import it.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from collections.abc import Callable, Iterable

LOOPBACK_NAMES = ("localhost", "host.docker.internal")  # the Docker backend's containers
_PAGE_SITES = ("cross-site", "same-site")


def host_name(host: str) -> str:
    """The name part of a Host header value, lower-case, without port or IPv6 brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def host_allowed(
    host: str, allowed: frozenset[str], loopback: Iterable[str] = LOOPBACK_NAMES
) -> bool:
    """True for IP addresses, loopback names, this machine's name and the allowed names
    (lower-case; "*" allows any)."""
    name = host_name(host)
    if not name or "*" in allowed or name in allowed:
        return True
    if name in loopback or name.endswith(".localhost") or is_address(name):
        return True
    return name == socket.gethostname().lower()


@functools.lru_cache(maxsize=1024)
def is_address(name: str) -> bool:
    """An IP literal (remembered: parsing it was the costliest step of every edge request)."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def origin_listed(origin: str, origins: frozenset[str]) -> bool:
    """True for an origin in the allowed list ("*" allows any)."""
    return "*" in origins or origin in origins


def from_refused_page(
    origin: str | None, site: str | None, origin_allowed: Callable[[str], bool]
) -> bool:
    """True for a request a browser marks as a page's (an Origin, or a cross-site or
    same-site Sec-Fetch-Site) that does not come from an allowed origin."""
    if origin is None:
        return site in _PAGE_SITES
    return not origin_allowed(origin)
