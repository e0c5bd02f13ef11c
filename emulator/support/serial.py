"""Work for one key done in order, in a background thread that exists only while there is work.

The endpoint manager gives each endpoint its own queue: a deploy, an update and a delete of
one endpoint never overlap, while different endpoints move in parallel. A piece of work can
be cancelled (its `cancel` event is set) so that a DeleteEndpoint does not wait out a deploy
that is still waiting for its model server's first /ping.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass
class Work:
    """One piece of work on a key, with the token it commits under."""

    key: str
    kind: str  # deploy, update, reweigh, delete, restore, heal: for logs
    token: str
    run: Callable[[Work], None]
    cancel: threading.Event = field(default_factory=threading.Event)
    # called (outside the queue's lock) when the work is dropped before it ran: by a cancel,
    # or submitted after shutdown, so that whoever waits for it (a cold start's held
    # requests) is answered rather than left hanging
    dropped: Callable[[], None] | None = None


class SerialQueues:
    """A queue per key, each drained by its own short-lived thread."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._queues: dict[str, deque[Work]] = {}
        self._current: dict[str, Work] = {}
        self._pending = 0  # submitted and not finished, over all keys
        self.closed = False

    def submit(self, work: Work) -> None:
        """Queue work behind whatever its key already has queued."""
        with self._lock:
            closed = self.closed
            if not closed:
                self._pending += 1
                queue = self._queues.get(work.key)
                if queue is not None:
                    queue.append(work)
                    return
                self._queues[work.key] = deque([work])
        if closed:
            _dropped([work])
            return
        thread = threading.Thread(
            target=self._drain, args=(work.key,), name=f"endpoint-{work.key}", daemon=True
        )
        thread.start()

    def cancel(self, key: str, keep: Callable[[Work], bool] = lambda w: False) -> None:
        """Cancel the key's running work and drop its queued work (except what `keep` keeps)."""
        with self._lock:
            current = self._current.get(key)
            if current is not None:
                current.cancel.set()
            queue = self._queues.get(key)
            gone: list[Work] = []
            if queue:
                kept = deque(w for w in queue if keep(w))
                gone = [w for w in queue if not keep(w)]
                self._pending -= len(gone)
                self._queues[key] = kept
                self._lock.notify_all()
        _dropped(gone)

    def cancel_all(self) -> None:
        """Close for new work and cancel everything (shutdown)."""
        with self._lock:
            self.closed = True
            keys = list(self._queues)
        for key in keys:
            self.cancel(key)

    def running(self, key: str) -> Work | None:
        """The work in progress on a key."""
        with self._lock:
            return self._current.get(key)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no work is queued or running; False on a timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._pending:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._lock.wait(left)
        return True

    def _drain(self, key: str) -> None:
        while True:
            with self._lock:
                queue = self._queues[key]
                if not queue:
                    del self._queues[key]
                    return
                work = self._current[key] = queue.popleft()
            try:
                work.run(work)
            except Exception:
                log.exception("endpoint %s: %s failed", key, work.kind)
            finally:
                with self._lock:
                    del self._current[key]
                    self._pending -= 1
                    self._lock.notify_all()


def _dropped(works: list[Work]) -> None:
    for work in works:
        if work.dropped is None:
            continue
        try:
            work.dropped()
        except Exception:
            log.exception("endpoint %s: dropping %s failed", work.key, work.kind)
