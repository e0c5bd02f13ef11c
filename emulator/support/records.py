"""What the typed records of every level share: kept AWS members and the output of set ones.

A record lives with the code that reads it: the control plane's kinds in `control/`, the
records a manager moves through its statuses beside the manager (`jobs/training/records.py`).
"""

from __future__ import annotations

from collections.abc import Iterable

# An AWS-shaped member the API stores and describes back unchanged (VpcConfig, ...).
Nested = dict[str, object]


def shown(members: Iterable[tuple[str, object]]) -> dict[str, object]:
    """An output document of (AWS key, value) pairs: the set ones, in that order."""
    return {key: value for key, value in members if value is not None}
