"""A serverless variant's MemorySizeInMB as its model server's memory budget.

SageMaker gives a serverless endpoint's container that much memory; a container that needs
more fails. Locally the budget is watched rather than imposed: once a second the resident
memory of each serverless instance's whole process group (the gunicorn master and its
workers, read from /proc) is compared with the budget, and a server above it is killed, as
the out-of-memory killer ends a container at its limit. The supervisor then starts a new
one in its place, as for any server that died; requests in flight on it get a ModelError.

Why not RLIMIT_AS: it limits address space, not memory, and numeric libraries reserve far
more address space than they touch (thread arenas, BLAS buffers), so a model that fits in
1 GB of memory would fail to import under a 1 GB address-space limit. A watch reads what the
server really uses. It needs Linux's /proc and the process backend; elsewhere nothing is
watched (docs/fidelity.md).
"""

from __future__ import annotations

import logging
import os
import signal
from pathlib import Path

log = logging.getLogger(__name__)
PROC = Path("/proc")
MB = 1024 * 1024


def group_rss(group: int, proc: Path = PROC) -> int | None:
    """Resident bytes of every process in a process group (None without /proc)."""
    if not proc.is_dir():
        return None
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it ended meanwhile, or is not ours to read
            continue
        # fields after the command (which may hold spaces): state ppid pgrp ... rss is 24th
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 21 and int(fields[2]) == group:
            total += int(fields[21]) * page
    return total


def enforce(group: int, budget_mb: int, label: str) -> bool:
    """Kill the process group if it holds more than its budget; True if it was killed."""
    used = group_rss(group)
    if used is None or used <= budget_mb * MB:
        return False
    log.warning(
        "%s uses %d MB, above its MemorySizeInMB of %d: stopping it (a new one is started)",
        label,
        used // MB,
        budget_mb,
    )
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True
