"""The background threads of one kind of job, started from request threads at once.

Requests run on several threads of the edge (and pipelines, schedules and the tuner start
jobs too), so the list of job threads is changed under a lock: rebuilt without one, two jobs
starting together could each drop the other's thread, and shutdown would not wait for it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class JobThreads:
    """Starts a job's thread; waits for those still running."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix  # the threads' names: "{prefix}-{job name}"
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self, run: Callable[[str], None], name: str) -> None:
        """Run `run(name)` in a daemon thread of its own."""
        thread = threading.Thread(target=run, args=(name,), name=f"{self.prefix}-{name}",
                                  daemon=True)  # fmt: skip
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def wait(self, timeout: float | None = None) -> None:
        """Join each thread started so far (each for up to `timeout` seconds)."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)
