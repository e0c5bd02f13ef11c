"""Watches every serving model server and has a dead one replaced, as SageMaker replaces an
unhealthy instance.

Once a second, each live variant's server is asked whether it still runs (the gunicorn master
of the process backend, the container of the Docker one; gunicorn itself replaces workers
that die). A dead server is handed to the endpoint manager, which starts a new one on the
same files and moves the route to it. A variant that keeps dying (more than MAX_RESTARTS
times within RESTART_WINDOW seconds), or whose replacement does not come up, takes its
endpoint to Failed with a reason that names the variant and its log.
"""

from __future__ import annotations

import logging
import threading
import time

from emulator.endpoint_manager import EndpointManager
from emulator.fleet import RunningVariant

log = logging.getLogger(__name__)
INTERVAL = 1.0
MAX_RESTARTS = 3
RESTART_WINDOW = 600.0


class Supervisor:
    """A thread that checks every serving variant's server once per interval."""

    def __init__(self, manager: EndpointManager, interval: float = INTERVAL) -> None:
        self.manager = manager
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._deaths: dict[tuple[str, str], list[float]] = {}
        self._reported: dict[tuple[str, str], RunningVariant] = {}  # handed over, not yet gone

    def start(self) -> None:
        """Start watching."""
        self._thread = threading.Thread(target=self._loop, name="supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (before the servers are stopped on purpose)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def check(self) -> None:
        """One round: report every dead server to the manager."""
        for key, variant, running in self.manager.live_variants():
            if self._reported.get((key, variant)) is running:
                continue  # the manager is on it
            try:
                if running.server.alive():
                    continue
            except Exception:  # a backend that cannot tell counts as dead
                log.exception("cannot tell whether %s/%s runs", key, variant)
            now = time.monotonic()
            deaths = [t for t in self._deaths.get((key, variant), []) if now - t < RESTART_WINDOW]
            deaths.append(now)
            self._deaths[(key, variant)] = deaths
            reason = (
                f"The model server of production variant {variant} stopped unexpectedly; its "
                f"log is {running.server.log_path}"
            )
            self._reported[(key, variant)] = running
            if len(deaths) > MAX_RESTARTS:
                reason += (
                    f" (it stopped {len(deaths)} times within {RESTART_WINDOW:.0f} s, so it is "
                    "not started again)"
                )
                self.manager.fail(key, variant, running, reason)
            else:
                self.manager.heal(key, variant, running, reason)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:
                log.exception("the supervisor's check failed")
