"""Files and folders only their owner can open: a spool holds the users' captured payloads.

Files capture creates are 0600 and folders it creates 0700, whatever the process umask;
folders that already existed (the user's home, the system temp dir) are left as they were.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def make_folders(folder: Path) -> None:
    """Create folder and its missing parents, each 0700; existing ones are left alone."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for path in reversed(missing):
        try:
            path.mkdir(mode=FOLDER_MODE)
        except FileExistsError:
            continue  # another process made it meanwhile, and set its mode
        path.chmod(FOLDER_MODE)  # mkdir's mode went through the umask


def open_file(path: Path, flags: int) -> int:
    """os.open that creates the file 0600 (and narrows one of ours left wider)."""
    fd = os.open(path, flags, FILE_MODE)
    if flags & os.O_CREAT:
        info = os.fstat(fd)
        if stat.S_IMODE(info.st_mode) != FILE_MODE and info.st_uid == os.geteuid():
            os.fchmod(fd, FILE_MODE)
    return fd


def write_file(path: Path, text: str) -> None:
    """Write text to path, created 0600 (or truncated)."""
    fd = open_file(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC)
    with os.fdopen(fd, "w") as file:
        file.write(text)
