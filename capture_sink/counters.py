"""Per-worker capture counters kept in a small memory-mapped file in the spool.

Each worker owns one file and bumps its slots in place: no system call per increment, and
the numbers survive the worker (even a SIGKILL) for the server's stats to add up.
"""

from __future__ import annotations

import mmap
import os
import struct
import threading
from collections.abc import Iterable
from pathlib import Path

from smlocal.capture_sink.private import open_file

FIELDS = ("sampled", "spooled", "uploaded", "retried", "dropped", "files_uploaded")
_SLOT = struct.Struct("<q")
_SIZE = _SLOT.size * len(FIELDS)


class Counters:
    """Counters of one worker, backed by `path` (created with zeros if missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        fd = open_file(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC)
        try:
            if os.fstat(fd).st_size < _SIZE:
                os.ftruncate(fd, _SIZE)
            self._map = mmap.mmap(fd, _SIZE)
        finally:
            os.close(fd)
        self._lock = threading.Lock()

    def add(self, name: str, amount: int = 1) -> None:
        """Add `amount` to one counter."""
        offset = FIELDS.index(name) * _SLOT.size
        with self._lock:
            (value,) = _SLOT.unpack_from(self._map, offset)
            _SLOT.pack_into(self._map, offset, value + amount)

    def bump(self, *names: str) -> None:
        """Add one to each named counter, together."""
        offsets = [FIELDS.index(name) * _SLOT.size for name in names]
        with self._lock:
            for offset in offsets:
                (value,) = _SLOT.unpack_from(self._map, offset)
                _SLOT.pack_into(self._map, offset, value + 1)

    def snapshot(self) -> dict[str, int]:
        """The current values."""
        return _decode(bytes(self._map[:_SIZE]))


def _decode(raw: bytes) -> dict[str, int]:
    raw = raw[:_SIZE].ljust(_SIZE, b"\0")
    return {name: _SLOT.unpack_from(raw, i * _SLOT.size)[0] for i, name in enumerate(FIELDS)}


def read_counters(path: Path) -> dict[str, int]:
    """The values stored in a counters file (zeros when it is gone)."""
    try:
        return _decode(path.read_bytes())
    except FileNotFoundError:
        return dict.fromkeys(FIELDS, 0)


def total(snapshots: Iterable[dict[str, int]]) -> dict[str, int]:
    """Counters added up across workers."""
    result = dict.fromkeys(FIELDS, 0)
    for snap in snapshots:
        for name in FIELDS:
            result[name] += snap.get(name, 0)
    return result
