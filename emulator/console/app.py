"""The console's HTTP side: routes, rendering, security headers and the CSRF check.

Every page is rendered in a worker thread (the store and S3 are read there), and answered on
the event loop, as the control plane's bridge does. Pages are HTML with one stylesheet and
one small script, both served from the package: a Content-Security-Policy allows nothing
else. A POST must come from a console page: its Origin must be the console's own and its
form must carry the token the console put in it.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import mimetypes
import secrets
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from jinja2 import Environment, FileSystemLoader, select_autoescape

from smlocal.emulator.console import filters, views
from smlocal.emulator.console.page import Page, Route
from smlocal.emulator.console.sources import Sources
from smlocal.emulator.errors import AWSError
from smlocal.emulator.wire.http_server import Headers, Request, Respond

log = logging.getLogger(__name__)
ROOT = "/_smlocal/"
HERE = Path(__file__).parent
STATIC = HERE / "static"
_NAME = "([a-zA-Z0-9-]{1,63})"
_JOB = "([a-zA-Z0-9-]{1,63})"


class Console:
    """The console's request handler (the edge hands it the paths it claims)."""

    def __init__(
        self, sources: Sources, loop: asyncio.AbstractEventLoop, executor: Executor
    ) -> None:
        self.sources = sources
        self.loop = loop
        self.executor = executor
        self.token = secrets.token_urlsafe(32)
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.templates.filters.update(filters.FILTERS)
        self.routes: list[Route] = views.routes(self, _NAME, _JOB)

    def claims(self, method: str, path: str) -> bool:
        """True for the console's own paths (with a method they take)."""
        if path == ROOT.rstrip("/"):
            return method in ("GET", "HEAD")
        return self._route(method, path) is not None or (
            method in ("GET", "HEAD") and path.startswith(ROOT + "static/")
        )

    def _route(self, method: str, path: str) -> tuple[Callable[..., Page], tuple[str, ...]] | None:
        wanted = "GET" if method == "HEAD" else method
        for route_method, pattern, view in self.routes:
            found = pattern.fullmatch(path)
            if found and route_method == wanted:
                return view, tuple(unquote(g) for g in found.groups())
        return None

    def __call__(self, request: Request, respond: Respond) -> None:
        if request.path == ROOT.rstrip("/"):
            respond(308, [("Location", ROOT)], b"")
            return
        if request.path.startswith(ROOT + "static/"):
            respond(*self._static(request.path[len(ROOT + "static/") :]))
            return
        self.executor.submit(self._run, request, respond)

    def _run(self, request: Request, respond: Respond) -> None:
        answer = self.answer(request)
        if request.method == "HEAD":
            answer = (answer[0], answer[1], b"")
        self.loop.call_soon_threadsafe(respond, *answer)

    def answer(self, request: Request) -> tuple[int, Headers, bytes]:
        """The response to a console request (run in a worker thread); always one."""
        try:
            return self._finish(self._page(request))
        except Exception:  # a bug in a template: still answer, or the browser waits
            log.exception("console page %s could not be rendered", request.path)
            body = b"The console could not render this page; see logs/emulator.log.\n"
            return 500, [("Content-Type", "text/plain; charset=utf-8")], body

    def _page(self, request: Request) -> Page:
        found = self._route(request.method, request.path)
        if found is None:
            return self._error(404, "No such page", "The console has no page here.")
        view, groups = found
        try:
            if request.method == "POST":
                refused = self._refused(request)
                if refused is not None:
                    return self._error(403, "Refused", refused)
            page: Page = view(request, *groups)
        except AWSError as exc:
            status = 404 if "Could not find" in exc.message else exc.status
            return self._error(status, exc.code, exc.message)
        except Exception as exc:  # something the console reads is down: say so plainly
            log.exception("console page %s failed", request.path)
            return self._error(503, "Something is down", f"{type(exc).__name__}: {exc}")
        return page

    def _refused(self, request: Request) -> str | None:
        """Why a POST is refused: not from a console page of this very origin, or no token."""
        origin = (request.header(b"origin") or b"").decode("latin-1")
        host = (request.header(b"host") or b"").decode("latin-1")
        if not host or origin != f"http://{host}":
            return "Actions are taken only from the console's own pages (same origin)."
        form = parse_qs(request.body.decode("utf-8", "replace"))
        token = (form.get("csrf") or [""])[0]
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            return "The form's token is missing or stale: reload the page and try again."
        return None

    def render(self, template: str, status: int = 200, **values: Any) -> Page:
        """A page of a template with the values every page gets."""
        return Page(template, values, status=status)

    def _error(self, status: int, title: str, message: str) -> Page:
        return Page("error.html", {"title": title, "message": message}, status=status)

    def _finish(self, page: Page) -> tuple[int, Headers, bytes]:
        headers = [
            ("Content-Type", page.content_type),
            ("Content-Security-Policy", page.csp),
            ("X-Content-Type-Options", "nosniff"),
            ("Referrer-Policy", "same-origin"),  # no-referrer would make a form's Origin "null"
            ("Cache-Control", "no-store"),
        ]
        if page.location is not None:
            return 303, [*headers, ("Location", page.location)], b""
        body = page.body
        if body is None:
            values = {"csrf": self.token, "root": ROOT, **(page.values or {})}
            body = self.templates.get_template(page.template).render(**values).encode()
        return page.status, headers, body

    def _static(self, name: str) -> tuple[int, Headers, bytes]:
        path = STATIC / name
        if "/" in name or name.startswith(".") or not path.is_file():
            return 404, [("Content-Type", "text/plain; charset=utf-8")], b"no such file\n"
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        headers = [
            ("Content-Type", f"{kind}; charset=utf-8"),
            ("X-Content-Type-Options", "nosniff"),
            ("Cache-Control", "no-cache"),
        ]
        return 200, headers, path.read_bytes()
