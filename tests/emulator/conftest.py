"""A WSGI app on a free loopback port, served from a thread, for tests through real clients."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server

from smlocal.emulator.wire.http_server import reason
from smlocal.emulator.wire.transport import HttpRequest, HttpResponse

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Any]


def wsgi(answer: Callable[[HttpRequest], HttpResponse]) -> WsgiApp:
    """A WSGI app around a function from HttpRequest to HttpResponse, for `serving`."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        headers = [(k[5:].replace("_", "-"), v) for k, v in environ.items() if k[:5] == "HTTP_"]
        if environ.get("CONTENT_TYPE"):
            headers.append(("Content-Type", environ["CONTENT_TYPE"]))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        request = HttpRequest.build(environ["REQUEST_METHOD"], environ["PATH_INFO"], headers, body)
        response = answer(request)
        out = [*response.headers, ("Content-Length", str(len(response.body)))]
        start_response(f"{response.status} {reason(response.status)}", out)
        return [response.body]

    return app


@contextmanager
def serving(app: WsgiApp) -> Iterator[str]:
    """Serve app on 127.0.0.1 (port 0) until the block ends; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="wsgi-test-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
