"""A resource kind's statuses as data: one `StatusMachine` per kind.

A machine names the document key that holds the status, the status a new resource starts
in, where each status may move, and in which statuses each operation is accepted. Every
place that sets a status goes through `move` (or `check`, when the write is done
elsewhere). A move the table does not allow is a bug in the emulator, not a user error:
`IllegalTransition`. An operation met in the wrong status is the user's: `require` raises
the AWS error the kind's `refuse` builds, worded as SageMaker words it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from smlocal.emulator.errors import AWSError

# (operation, status, resource name or ARN) -> the error AWS answers
Refusal = Callable[[str, str, str], AWSError]


class IllegalTransition(RuntimeError):
    """A move the table does not allow (a bug in the emulator, not a user error)."""


@dataclass(frozen=True)
class StatusMachine:
    """One resource kind's statuses and the moves between them."""

    kind: str  # as messages name it: "endpoint", "training job"
    key: str  # the document key that holds the status: "EndpointStatus"
    moves: Mapping[str, frozenset[str]]  # status -> the statuses it may move to
    first: str | None = None  # the status of a resource just created (None: none is)
    accepts: Mapping[str, frozenset[str]] = field(default_factory=dict)  # operation -> statuses
    refuse: Refusal | None = None  # the error `require` raises; needed once `accepts` is given

    def __post_init__(self) -> None:
        if self.accepts and self.refuse is None:
            raise ValueError(f"{self.kind}: operations are declared but no refusal")
        named = set().union(*self.moves.values(), *self.accepts.values())
        named |= {self.first} if self.first else set()
        unknown = sorted(named - set(self.moves))
        if unknown:
            raise ValueError(f"{self.kind} statuses not in its table: {', '.join(unknown)}")

    @property
    def statuses(self) -> frozenset[str]:
        """Every status of the kind."""
        return frozenset(self.moves)

    @property
    def terminal(self) -> frozenset[str]:
        """The statuses with no way out."""
        return frozenset(status for status, moves in self.moves.items() if not moves)

    def check(self, current: str | None, target: str) -> None:
        """IllegalTransition unless `current` may move to `target` (None: not yet created)."""
        if current is None:
            allowed = frozenset({self.first} if self.first else ())
        else:
            allowed = self.moves.get(current, frozenset())
        if target not in allowed:
            raise IllegalTransition(f"{self.kind} cannot go from {current} to {target}")

    def move(self, doc: dict[str, Any], target: str) -> dict[str, Any]:
        """Set a document's status to `target` if its table allows it; return the document."""
        self.check(doc.get(self.key), target)
        doc[self.key] = target
        return doc

    def require(self, operation: str, status: str, subject: str) -> None:
        """The kind's AWS error unless `operation` is accepted in `status`."""
        if status in self.accepts[operation]:
            return
        assert self.refuse is not None  # __post_init__
        raise self.refuse(operation, status, subject)
