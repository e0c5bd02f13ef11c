"""`smlocal serve`: gunicorn serving the app, as SageMaker runs `docker run IMAGE serve`.

The model is fetched and unpacked once in the gunicorn master, then loaded once per worker
in gunicorn's post_worker_init hook, before the worker accepts a request; /ping answers 200
only after that.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from gunicorn.app.base import BaseApplication

from smlocal.model_server.app import create_app
from smlocal.model_server.artifacts import prepare
from smlocal.model_server.crash import failing_without_model_fn
from smlocal.model_server.environment import ServerSettings, SettingsError
from smlocal.model_server.errors import ArtifactError
from smlocal.model_server.loading import ModelState, scratch_dir

if TYPE_CHECKING:
    from smlocal.capture_sink.serving import CaptureServing

log = logging.getLogger(__name__)

WSGIApp = Callable[..., Any]


class ServingHooks(Protocol):
    """Optional behaviour around the app; capture_sink's CaptureServing is one."""

    def wrap(self, app: WSGIApp) -> WSGIApp:
        """Return the WSGI app a worker serves (the Flask app, possibly wrapped)."""

    def worker_exit(self) -> None:
        """Called in a worker as it stops."""


class NoHooks:
    """The app as it is."""

    def wrap(self, app: WSGIApp) -> WSGIApp:
        return app

    def worker_exit(self) -> None:
        pass


def capture_hooks() -> CaptureServing | None:
    """Data capture when the environment configures it (SMLOCAL_CAPTURE_CONFIG), else None."""
    from smlocal.capture_sink.serving import capture_from_env
    from smlocal.capture_sink.settings import CaptureSettingsError

    try:
        return capture_from_env()
    except CaptureSettingsError as exc:
        raise SettingsError(str(exc)) from None


class ModelServer(BaseApplication):  # type: ignore[misc]
    """gunicorn, configured from ServerSettings instead of a command line."""

    def __init__(
        self,
        settings: ServerSettings,
        hooks: ServingHooks | None = None,
        artifact_error: str | None = None,
    ) -> None:
        self.settings = settings
        self.hooks = hooks or NoHooks()
        self.artifact_error = artifact_error
        self.state: ModelState | None = None
        super().__init__()

    def load_config(self) -> None:
        s = self.settings
        options = {
            "bind": [s.bind_address],
            "workers": s.workers,
            "worker_class": "gthread",
            "threads": s.threads,
            "timeout": s.timeout,
            "graceful_timeout": 30,
            # Longer than any client's idle time, so pooled connections are not cut under them.
            "keepalive": 75,
            "loglevel": logging.getLevelName(s.log_level).lower(),
            "errorlog": "-",
            "accesslog": None,
            "proc_name": "smlocal-serve",
            "control_socket_disable": True,  # one socket path per user would collide
            "post_worker_init": self._post_worker_init,
            "worker_exit": self._worker_exit,
            "when_ready": self._when_ready,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> WSGIApp:
        """Build this worker's app (called in the worker, after fork)."""
        self.state = ModelState(self.settings, self.artifact_error)
        return self.hooks.wrap(failing_without_model_fn(create_app(self.state), self.state))

    def _when_ready(self, _arbiter: Any) -> None:
        if self.settings.parent_pid:
            threading.Thread(
                target=watch_parent, args=(self.settings.parent_pid,), daemon=True
            ).start()

    def _post_worker_init(self, _worker: Any) -> None:
        assert self.state is not None
        self.state.load()

    def _worker_exit(self, _server: Any, _worker: Any) -> None:
        self.hooks.worker_exit()


def watch_parent(parent_pid: int, interval: float = 0.5) -> None:
    """In the gunicorn master: stop gracefully once the parent (the emulator) is gone.

    The emulator starts model servers in their own session so a terminal's Ctrl-C reaches
    only the emulator, which stops them in order; if the emulator is killed outright, this
    keeps its model servers from living on as orphans.
    """
    while os.getppid() == parent_pid:
        time.sleep(interval)
    log.warning("the emulator (pid %d) is gone; stopping", parent_pid)
    os.kill(os.getpid(), signal.SIGTERM)


def run(settings: ServerSettings, hooks: ServingHooks | None = None) -> None:
    """Prepare the artifacts and serve until stopped (SIGTERM stops gracefully)."""
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s",
    )
    artifact_error = None
    made: list[Path] = []

    def scratch() -> Path:
        if not made:
            made.append(scratch_dir())
            made[0].chmod(0o700)  # mkdtemp's 0700 went through the umask; models go here
        return made[0]

    master = os.getpid()
    try:
        try:
            settings = prepare(settings, scratch)
        except ArtifactError as exc:
            artifact_error = str(exc)
            log.error("model artifact unusable: %s", artifact_error)
        ModelServer(settings, hooks, artifact_error).run()
    finally:
        if made and os.getpid() == master:  # workers leave through here too: not theirs
            shutil.rmtree(made[0], ignore_errors=True)
