"""The processes of one model server that share a spool: workers, counters, flush rounds.

    sessions/{id}/session.lock          flocked by the server's processes while it runs
    sessions/{id}/flush.epoch           the number of the latest flush request
    sessions/{id}/workers/{w}.lock      flocked by worker w while it lives
    sessions/{id}/workers/{w}.ack       the last flush round worker w has rolled its file for
    sessions/{id}/workers/{w}.counters  worker w's counters (see counters.py)

A lock that can be taken belongs to a process that is gone. The gunicorn master creates the
session before forking, so every worker of one server shares it; the stats and the flush of
that server concern its workers only, while spool files are shared by whoever uploads them.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from pathlib import Path

from smlocal.capture_sink.private import make_folders, open_file, write_file


def lock_is_free(path: Path) -> bool:
    """True when nobody holds an flock on `path` (or it is gone)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def _hold_lock(path: Path) -> int:
    fd = open_file(path, os.O_RDWR | os.O_CREAT)  # inherited by forked workers, on purpose
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def _read_int(path: Path) -> int:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return 0
    return int(text) if text.isdigit() else 0


class Session:
    """One server's shared state in the spool root."""

    def __init__(self, root: Path, session_id: str) -> None:
        self.root = root
        self.id = session_id
        self.folder = root / "sessions" / session_id
        self.workers = self.folder / "workers"
        self.lock_fd: int | None = None  # held by the server that created the session

    @classmethod
    def create(cls, root: Path) -> Session:
        """A new session for this server (call once, before forking workers)."""
        session = cls(root, uuid.uuid4().hex[:12])
        make_folders(session.workers)
        session.lock_fd = _hold_lock(session.folder / "session.lock")
        for other in (root / "sessions").iterdir():
            if other.name != session.id and lock_is_free(other / "session.lock"):
                shutil.rmtree(other, ignore_errors=True)  # a server that is gone
        return session

    def alive(self) -> bool:
        """True while a process of this session's server runs."""
        return not lock_is_free(self.folder / "session.lock")

    def register_worker(self) -> tuple[str, int]:
        """A new worker id and the fd of the lock it holds for its lifetime."""
        worker = f"{os.getpid()}-{uuid.uuid4().hex[:6]}"
        return worker, _hold_lock(self.workers / f"{worker}.lock")

    def counters_path(self, worker: str) -> Path:
        """Where a worker keeps its counters."""
        return self.workers / f"{worker}.counters"

    def counter_files(self) -> list[Path]:
        """The counters of every worker this server has had."""
        return sorted(self.workers.glob("*.counters"))

    def live_workers(self) -> list[str]:
        """Workers still running."""
        return [p.stem for p in sorted(self.workers.glob("*.lock")) if not lock_is_free(p)]

    def bump_epoch(self) -> int:
        """Start a new flush round; return its number."""
        fd = open_file(self.folder / "flush.epoch", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            text = os.read(fd, 32).decode().strip()
            epoch = (int(text) if text.isdigit() else 0) + 1
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, str(epoch).encode())
        finally:
            os.close(fd)
        return epoch

    def epoch(self) -> int:
        """The latest flush round."""
        return _read_int(self.folder / "flush.epoch")

    def ack(self, worker: str, epoch: int) -> None:
        """Record that `worker` has rolled its file for flush round `epoch`."""
        tmp = self.workers / f".{worker}.ack.tmp"
        write_file(tmp, str(epoch))
        tmp.replace(self.workers / f"{worker}.ack")

    def acked(self, worker: str) -> int:
        """The last flush round a worker acknowledged."""
        return _read_int(self.workers / f"{worker}.ack")

    def not_acked(self, epoch: int) -> list[str]:
        """Live workers that have not yet rolled their file for flush round `epoch`."""
        return [w for w in self.live_workers() if self.acked(w) < epoch]
