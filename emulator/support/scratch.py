"""The only folders smlocal ever removes: the scratch folders it made itself.

Every scratch folder lives under `{data_dir}/scratch/`, is created here with a marker file
inside, and is removed only through `Scratch.remove`, which refuses anything it cannot prove
is its own: a path outside the scratch root, a symbolic link, or a folder without the marker.
A user's model folder (`ModelDataUrl=/home/me/model`) is read in place and never passes
through here, so no stop path can reach it or its neighbours.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

MARKER = ".smlocal-scratch"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class NotOurs(RuntimeError):
    """A removal of a folder smlocal did not create (a bug; nothing was removed)."""


class Scratch:
    """Creates, removes and sweeps marked folders under `{data_dir}/scratch`."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir.resolve() / "scratch"

    def create(self, *parts: str) -> Path:
        """A new, empty, private folder at scratch/{parts...}/{random}, marked as ours."""
        safe = [_UNSAFE.sub("_", part) or "_" for part in parts]
        parent = self.root.joinpath(*safe)
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        folder = parent / uuid.uuid4().hex[:12]
        folder.mkdir(mode=0o700)
        (folder / MARKER).write_text(f"created by smlocal (pid {os.getpid()})\n")
        return folder

    def owns(self, folder: Path) -> bool:
        """True for a marked folder strictly inside the scratch root, reached without links."""
        if folder.is_symlink() or not folder.is_dir():
            return False
        resolved = folder.resolve()
        if resolved == self.root or not resolved.is_relative_to(self.root):
            return False
        if Path(os.path.realpath(folder)) != Path(os.path.abspath(folder)):
            return False  # some component of the path is a link
        return (resolved / MARKER).is_file()

    def remove(self, folder: Path) -> None:
        """Remove a folder `create` made; NotOurs (and nothing removed) for anything else."""
        if not folder.exists() and not folder.is_symlink():
            return
        if not self.owns(folder):
            raise NotOurs(f"smlocal refuses to remove {folder}: it did not create it")
        shutil.rmtree(folder, ignore_errors=True)
        self._prune(folder.resolve().parent)

    def discard(self, folder: Path | None) -> None:
        """`remove`, logging instead of raising (for clean-up paths that must go on)."""
        if folder is None:
            return
        try:
            self.remove(folder)
        except NotOurs:
            log.exception("not removing %s", folder)

    def sweep(self) -> int:
        """Remove every marked folder (at start-up: they belong to a run that is over)."""
        if not self.root.is_dir():
            return 0
        removed = 0
        for marker in sorted(self.root.rglob(MARKER)):
            folder = marker.parent
            if self.owns(folder):
                shutil.rmtree(folder, ignore_errors=True)
                self._prune(folder.parent)
                removed += 1
        return removed

    def _prune(self, folder: Path) -> None:
        """Remove the empty folders `create` made above a removed one (rmdir: empty only)."""
        while folder != self.root and folder.is_relative_to(self.root):
            try:
                folder.rmdir()
            except OSError:
                return  # not empty (or already gone): still in use
            folder = folder.parent
