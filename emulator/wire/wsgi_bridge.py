"""Runs a WSGI app (moto's S3, the control plane's Flask app) behind the asyncio HTTP server:
each request in a thread pool, its answer handed back to the loop. `call_wsgi` also serves
the middlewares that call an app in-process and look at its whole answer."""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from typing import Any
from urllib.parse import unquote_to_bytes

from smlocal.emulator.wire.http_server import Headers, Request, Respond

log = logging.getLogger(__name__)
WSGIApp = Callable[..., Iterable[bytes]]


class WSGIBridge:
    """Runs a WSGI app for a request in a thread pool and answers back on the loop."""

    def __init__(
        self,
        app: WSGIApp,
        loop: asyncio.AbstractEventLoop,
        executor: Executor,
        server_port: int,
        after: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.loop = loop
        self.executor = executor
        self.server_port = server_port
        self.after = after  # runs in the worker thread after each request (S3 persistence)

    def __call__(self, request: Request, respond: Respond) -> None:
        self.executor.submit(self._run, request, respond)

    def _run(self, request: Request, respond: Respond) -> None:
        try:
            status, headers, body = call_wsgi(self.app, self.environ(request))
        except Exception:
            log.exception("WSGI app failed for %s %s", request.method, request.path)
            status, headers, body = 500, [("Content-Type", "text/plain")], b"internal error"
        if self.after is not None:
            self.after()
        self.loop.call_soon_threadsafe(respond, status, headers, body)

    def environ(self, request: Request) -> dict[str, Any]:
        """The PEP 3333 environ of a request."""
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(request.path).decode("latin-1"),
            "QUERY_STRING": request.query,
            "RAW_URI": request.path + (f"?{request.query}" if request.query else ""),
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": str(self.server_port),
            "SERVER_PROTOCOL": f"HTTP/{request.http_version}",
            "REMOTE_ADDR": request.client,
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(request.body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
        }
        environ["REQUEST_URI"] = environ["RAW_URI"]
        for name, value in request.headers:
            text = value.decode("latin-1")
            if name == b"content-type":
                environ["CONTENT_TYPE"] = text
            elif name == b"content-length":
                continue
            else:
                key = "HTTP_" + name.decode("latin-1").upper().replace("-", "_")
                environ[key] = f"{environ[key]},{text}" if key in environ else text
        environ["CONTENT_LENGTH"] = str(len(request.body))
        return environ


def call_wsgi(app: WSGIApp, environ: dict[str, Any]) -> tuple[int, Headers, bytes]:
    """Call a WSGI app and collect its whole answer."""
    started: list[Any] = []

    def start_response(status: str, headers: Headers, exc_info: Any = None) -> Any:
        started[:] = [status, headers]
        return lambda data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status_text, headers = started
    return int(status_text.split(" ", 1)[0]), list(headers), body
