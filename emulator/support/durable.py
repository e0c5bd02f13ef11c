"""Files that are on disk when the call returns: temporary name, fsync, rename, folder fsync.

A crash leaves either the old file or the new one, never half of one, plus at worst a
temporary file (named with TMP_PREFIX) that a start-up sweep removes.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from pathlib import Path

TMP_PREFIX = ".tmp-"


def durable_write(path: Path, chunks: Iterable[bytes], sync: bool = True) -> None:
    """Replace path with the chunks, private (0600), durably unless sync is False."""
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{uuid.uuid4().hex[:8]}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(fd, "wb", closefd=False) as out:
            for chunk in chunks:
                out.write(chunk)
        if sync:
            os.fsync(fd)
        os.close(fd)
        fd = -1
        os.replace(tmp, path)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    if sync:
        sync_dir(path.parent)


def durable_unlink(path: Path, sync: bool = True) -> bool:
    """Remove a file if it is there (and make that stick); True if it was."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    if sync:
        sync_dir(path.parent)
    return True


def ensure_dir(folder: Path, sync: bool = True) -> None:
    """Create folder and its missing parents (0700), each made durable in its parent."""
    if folder.is_dir():
        return
    ensure_dir(folder.parent, sync)
    folder.mkdir(mode=0o700, exist_ok=True)
    if sync:
        sync_dir(folder.parent)


def sync_dir(folder: Path) -> None:
    """fsync a folder, so that names created or removed in it survive a crash."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sweep_temporaries(folder: Path) -> int:
    """Remove the temporary files a crash left in folder (files only); return how many."""
    removed = 0
    for leftover in folder.glob(f"{TMP_PREFIX}*"):
        if leftover.is_file() and not leftover.is_symlink():
            leftover.unlink()
            removed += 1
    return removed
