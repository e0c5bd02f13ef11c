"""The embedded AWS services (moto), with S3 writes that are on disk before they are
acknowledged (`smlocal.emulator.embedded.s3_persistence`) and that survive a restart or a crash.

`DurableWrites` is a WSGI middleware around moto: it runs each request in a persistence
scope, so the buckets and objects the request changed are written before its answer leaves.
If that fails (a full disk, say), moto is put back as it was and the request answers 500
InternalError, as S3 does when it cannot store an object; clients retry it, and a capture
uploader keeps its spool file. Latest versions only; what is not kept across restarts is
listed in docs/fidelity.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from smlocal.emulator.embedded.errors import AwsShapedErrors
from smlocal.emulator.embedded.iam_simulation import IamSimulation
from smlocal.emulator.embedded.s3_persistence import NotPersisted, S3Persistence
from smlocal.emulator.wire.http_server import reason
from smlocal.emulator.wire.wsgi_bridge import WSGIApp, call_wsgi

__all__ = ["DurableWrites", "S3Persistence", "embedded_services", "moto_app"]

_INTERNAL_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code><Message>We '
    "encountered an internal error. Please try again.</Message><RequestId>{request_id}"
    "</RequestId></Error>"
)


def moto_app() -> WSGIApp:
    """moto's server-mode WSGI app: every AWS service, picked by the request's signature."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    return DomainDispatcherApplication(create_backend_app)


def embedded_services(persistence: S3Persistence) -> WSGIApp:
    """moto as the edge serves it: S3 writes durable, IAM's policy simulator answered
    (`smlocal.emulator.embedded.iam_simulation`), every error in its service's shape
    (`smlocal.emulator.embedded.errors`)."""
    return AwsShapedErrors(IamSimulation(DurableWrites(moto_app(), persistence)))


class DurableWrites:
    """WSGI middleware around moto: a request's S3 changes are on disk before it is answered,
    or it answers 500 InternalError and changes nothing; a GET or HEAD never sees a change
    before it is on disk."""

    def __init__(self, app: WSGIApp, persistence: S3Persistence) -> None:
        self.app = app
        self.persistence = persistence

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        reads = environ.get("REQUEST_METHOD") in ("GET", "HEAD")
        try:
            with self.persistence.reading() if reads else nullcontext(), self.persistence.scope():
                status, headers, body = call_wsgi(self.app, environ)
        except NotPersisted:
            body = _INTERNAL_ERROR.format(request_id=uuid.uuid4().hex[:16].upper()).encode()
            status, headers = 500, [("Content-Type", "application/xml")]
        start_response(f"{status} {reason(status)}", headers)
        return [body]
