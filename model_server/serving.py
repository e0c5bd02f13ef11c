"""`smlocal serve`: gunicorn serving the app, as SageMaker runs `docker run IMAGE serve`.

The model is fetched and unpacked once in the gunicorn master, then loaded once per worker
in gunicorn's post_worker_init hook, before the worker accepts a request; /ping answers 200
only after that. A model that fails to load is kept as the reason /ping gives; a worker that
ends before it could serve at all (the user's script calls sys.exit, argparse refuses the
server's command line, the process dies) stops the server, as gunicorn stops for a worker
that raised while booting, instead of being replaced over and over.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from gunicorn.app.base import BaseApplication
from gunicorn.errors import HaltServer

from smlocal.model_server.app import create_app
from smlocal.model_server.artifacts import prepare
from smlocal.model_server.crash import failing_without_model_fn
from smlocal.model_server.environment import (
    SMLOCAL_EDGE_SOCKET_DIR,
    ServerSettings,
    SettingsError,
)
from smlocal.model_server.errors import ArtifactError
from smlocal.model_server.loading import ModelState, scratch_dir
from smlocal.model_server.local_only import LocalOnly

if TYPE_CHECKING:
    from smlocal.capture_sink.serving import CaptureServing

log = logging.getLogger(__name__)

WSGIApp = Callable[..., Any]
WORKER_BOOT_ERROR = 3  # gunicorn's Arbiter.WORKER_BOOT_ERROR: the exit status of a halt


class WorkerExited(RuntimeError):
    """The model's code ended the worker (SystemExit) while it loaded."""


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
        # one byte shared by the master and every worker it forks: 1 once any worker served
        self.booted = mmap.mmap(-1, 1)
        super().__init__()

    def load_config(self) -> None:
        s = self.settings
        options = {
            "bind": [s.bind_address, *s.also_bind],
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
            "child_exit": self._child_exit,
            "when_ready": self._when_ready,
            "on_exit": _remove_edge_socket_dir,
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self) -> WSGIApp:
        """Build this worker's app (called in the worker, after fork)."""
        self.state = ModelState(self.settings, self.artifact_error)
        app = self.hooks.wrap(failing_without_model_fn(create_app(self.state), self.state))
        return LocalOnly(app, self.settings.allowed_hosts, self.settings.allowed_origins)

    def _when_ready(self, _arbiter: Any) -> None:
        if self.settings.parent_pid:
            threading.Thread(
                target=watch_parent, args=(self.settings.parent_pid,), daemon=True
            ).start()

    def _post_worker_init(self, worker: Any) -> None:
        """Load the model; the model's code exiting becomes an exception, which gunicorn logs
        with its traceback and answers by stopping ("Worker failed to boot."). A worker told
        to quit (Ctrl-C: gunicorn's handler exits) leaves as gunicorn asks."""
        assert self.state is not None
        try:
            self.state.load()
        except SystemExit as exc:
            if not worker.alive:
                raise
            raise WorkerExited(
                f"the model's code exited while the worker loaded it (exit status {exc.code})"
            ) from exc
        self.booted[0] = 1

    def _child_exit(self, arbiter: Any, worker: Any) -> None:
        """In the master: a worker ended before any worker could serve (killed, or its
        process exited at once): stop as gunicorn does for one that raised while booting,
        rather than replacing it for ever. Not while the server is stopping (no listeners)."""
        if self.booted[0] or not arbiter.LISTENERS:
            return
        log.error("worker %d ended before the model was loaded", worker.pid)
        raise HaltServer("Worker failed to boot.", WORKER_BOOT_ERROR)

    def _worker_exit(self, _server: Any, _worker: Any) -> None:
        self.hooks.worker_exit()


def _remove_edge_socket_dir(_arbiter: Any) -> None:
    """In the master, once gunicorn has closed (and unlinked) its sockets: the edge socket's
    folder, if the emulator named one and it is empty (never anything else)."""
    folder = os.environ.get(SMLOCAL_EDGE_SOCKET_DIR)
    if folder:
        with contextlib.suppress(OSError):
            os.rmdir(folder)


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
