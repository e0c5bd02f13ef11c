"""The scikit-learn container's WSGI app when it has no model_fn: every request raises.

aws/sagemaker-scikit-learn-container `serving.py` (v0.20.0 to v1.4-2-py312) builds its app
lazily in `main(environ, start_response)`, on each request until it succeeds. Without a
model_fn it never does, and the exception leaves the WSGI callable, so gunicorn itself logs
"Error handling request /ping" with the traceback and answers its own `text/html` 500 page
(gunicorn `util.write_error`). Raising the same exception out of this app gets gunicorn to do
exactly that.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from smlocal.model_server.loading import ModelState

# The container's logger: logging.getLogger(__name__) in sagemaker_sklearn_container/serving.py.
container_log = logging.getLogger("sagemaker_sklearn_container.serving")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def failing_without_model_fn(app: WSGIApp, state: ModelState) -> WSGIApp:
    """`app`, unless the worker's model state says the container has no model_fn."""

    def serve(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        crash = state.crash
        if crash is None:
            return app(environ, start_response)
        if crash.unexpected:  # serving.import_module's `except Exception` branch
            container_log.info("Encountered an unexpected error.")
        raise type(crash.error)(*crash.error.args)  # a fresh one: no traceback piles up

    return serve
