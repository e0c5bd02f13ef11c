"""Capture in a pre-forking server: the model server's serving hooks call into this.

`CaptureServing` is made once in the server's main process (before workers are forked); it
starts a session shared by the workers. In each worker, `wrap(app)` starts that worker's
capture and returns the app wrapped in CaptureMiddleware; `worker_exit()` flushes it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from smlocal.capture_sink.keys import capture_prefix
from smlocal.capture_sink.middleware import CaptureMiddleware, WSGIApp
from smlocal.capture_sink.private import make_folders
from smlocal.capture_sink.runtime import CaptureWorker, WorkerOptions
from smlocal.capture_sink.s3 import S3Put
from smlocal.capture_sink.sampler import NeverSampler, PercentageSampler, Sampler
from smlocal.capture_sink.session import Session
from smlocal.capture_sink.settings import (
    SMLOCAL_CAPTURE_SPOOL_DIR,
    CaptureSettings,
    CaptureSettingsError,
)
from smlocal.capture_sink.spool import Target
from smlocal.capture_sink.uploader import PutObject

log = logging.getLogger(__name__)


class CaptureServing:
    """Data capture for one model server (endpoint variant), as configured by settings."""

    def __init__(
        self,
        settings: CaptureSettings,
        put_factory: Callable[[], PutObject] | None = None,
    ) -> None:
        self.settings = settings
        self._put_factory = put_factory or (lambda: S3Put(settings.region))
        root = settings.spool_root
        try:
            make_folders(root)
            self.session = Session.create(root)
        except OSError as exc:
            raise CaptureSettingsError(
                f"{SMLOCAL_CAPTURE_SPOOL_DIR}: cannot use {root} as the capture spool: {exc}"
            ) from None
        self.worker: CaptureWorker | None = None
        config = settings.config
        where = capture_prefix(
            config.destination_s3_uri, settings.endpoint_name, settings.variant_name
        )
        self.target = Target(where.bucket, where.key, config.kms_key_id)
        self._where = where.uri

    def sampler(self) -> Sampler:
        """The sampler the configuration asks for."""
        config = self.settings.config
        if not config.enable_capture:
            return NeverSampler()
        return PercentageSampler(config.initial_sampling_percentage, self.settings.seed)

    def wrap(self, app: WSGIApp) -> WSGIApp:
        """Start this worker's capture and return `app` wrapped in the middleware."""
        s = self.settings
        options = WorkerOptions(roll_seconds=s.roll_seconds, disk_threshold=s.disk_threshold)
        worker = CaptureWorker(
            s.spool_root, self.session, self.target, self._put_factory(), options=options
        )
        self.worker = worker.start()
        log.info(
            "data capture %s: %d%% of invocations to %s (spool %s, worker %s)",
            "on" if s.config.enable_capture else "off (uploading leftovers only)",
            s.config.initial_sampling_percentage,
            self._where,
            s.spool_root,
            worker.worker_id,
        )
        return CaptureMiddleware(
            app,
            config=s.config,
            sink=worker,
            sampler=self.sampler(),
            control=worker,
            capture_failed=s.capture_failed,
            invocation_source=s.invocation_source,
        )

    def worker_exit(self) -> None:
        """Roll and upload what this worker spooled (what S3 does not take stays spooled)."""
        if self.worker is not None:
            self.worker.close()
            self.worker = None


def capture_from_env(env: Mapping[str, str] | None = None, **kwargs: Any) -> CaptureServing | None:
    """Capture as the environment configures it, or None when SMLOCAL_CAPTURE_CONFIG is unset."""
    settings = CaptureSettings.from_env(env)
    return None if settings is None else CaptureServing(settings, **kwargs)
