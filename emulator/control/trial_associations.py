"""Which trial components belong to which trials (AssociateTrialComponent's many-to-many).

One stored document per pair, keyed by both names (lower-cased, as the entities are), so
an association survives a restart and neither side's record has to be rewritten for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from smlocal.emulator.control.context import Context
from smlocal.emulator.support.records import Document

KIND = "experiment-association"


@dataclass(frozen=True)
class Association:
    """A trial component's membership of a trial."""

    trial: str  # the trial's name as given
    component: str  # the trial component's name as given
    creation_time: float

    @property
    def key(self) -> str:
        """Its store key: both names, lower-cased (no entity name holds a '/')."""
        return f"{self.trial.lower()}/{self.component.lower()}"

    @classmethod
    def from_document(cls, doc: Document) -> Association:
        """The association of a stored document."""
        return cls(doc["TrialName"], doc["TrialComponentName"], doc["CreationTime"])

    def to_document(self) -> Document:
        """The stored document."""
        return {
            "TrialName": self.trial,
            "TrialComponentName": self.component,
            "CreationTime": self.creation_time,
        }


def associations(ctx: Context) -> list[Association]:
    """Every association, oldest first."""
    return [Association.from_document(d) for d in ctx.store.all(KIND)]


def associate(ctx: Context, trial: str, component: str) -> None:
    """Record that a component belongs to a trial (again: no change)."""
    association = Association(trial, component, ctx.now())
    with ctx.store.transaction():
        if ctx.store.get(KIND, association.key) is None:
            ctx.store.put(KIND, association.key, association.to_document())


def disassociate(ctx: Context, trial: str, component: str) -> bool:
    """Forget a membership; False if there was none."""
    key = f"{trial.lower()}/{component.lower()}"
    with ctx.store.transaction():
        if ctx.store.get(KIND, key) is None:
            return False
        ctx.store.delete(KIND, key)
    return True


def trials_of(ctx: Context, component: str) -> list[str]:
    """The names of the trials a component belongs to, in the order it joined them."""
    return [a.trial for a in associations(ctx) if a.component.lower() == component.lower()]


def components_of(ctx: Context, trial: str) -> list[str]:
    """The names of a trial's components, in the order they joined it."""
    return [a.component for a in associations(ctx) if a.trial.lower() == trial.lower()]
