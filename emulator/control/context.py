"""What every control-plane operation works with: the state, and the managers that do the
work in the background (bringing endpoints up, running training and processing jobs).

Each manager's type is a Protocol that the resource module calling it defines, holding
exactly the methods that module calls; `server.py` wires the concrete managers in. An
operation that needs a manager nobody wired in fails with `ManagerMissing`, naming it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from smlocal.emulator.errors import ValidationException
from smlocal.emulator.support.state import State

if TYPE_CHECKING:
    from smlocal.emulator.control.endpoints import EndpointHosting
    from smlocal.emulator.control.pipeline_executions import PipelineRunner
    from smlocal.emulator.control.processing_jobs import ProcessingRunner
    from smlocal.emulator.control.training_jobs import TrainingRunner
    from smlocal.emulator.control.transform_jobs import TransformRunner
    from smlocal.emulator.control.tuning_jobs import TuningRunner

M = TypeVar("M")


class ManagerMissing(RuntimeError):
    """An operation needs a manager this Context was built without (a wiring bug)."""


@dataclass
class Managers:
    """The background managers, each typed by the Protocol its resource module defines."""

    endpoints: EndpointHosting | None = None
    training: TrainingRunner | None = None
    processing: ProcessingRunner | None = None
    pipelines: PipelineRunner | None = None
    transform: TransformRunner | None = None
    tuning: TuningRunner | None = None


@dataclass
class Context(State):
    """State and collaborators injected into the operations (never module globals)."""

    managers: Managers = field(default_factory=Managers)


def wired(manager: M | None, role: str) -> M:
    """The manager, or ManagerMissing if none was wired in for this role."""
    if manager is None:
        raise ManagerMissing(f"no {role} manager is wired into the control plane's Context")
    return manager


def not_found(kind: str, arn: str) -> ValidationException:
    """SageMaker's not-found error; the SDK relies on "Could not find" in it."""
    return ValidationException(f'Could not find {kind} "{arn}".')
