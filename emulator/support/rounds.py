"""A watcher's thread: `check()` once per interval until stopped (the supervisor's health
rounds, the serverless scaler's idle and memory rounds). A round that fails is logged, in the
watcher's own logger, and the next one runs: one bad round must not end the watching."""

from __future__ import annotations

import logging
import threading


class Rounds:
    """A daemon thread calling `check` every `interval` seconds; subclasses give `check`,
    and name the thread and say, in their logger, what a failed round was."""

    def __init__(self, interval: float, name: str, log: logging.Logger, failure: str) -> None:
        self.interval = interval
        self._name = name
        self._log = log
        self._failure = failure
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> None:
        """One round."""
        raise NotImplementedError

    def start(self) -> None:
        """Start the rounds (the first one an interval from now)."""
        self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the rounds (waiting a while for the one under way)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except Exception:
                self._log.exception(self._failure)
