"""What every control-plane operation works with: the store, the settings, the clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from smlocal.emulator.control.store import Store
from smlocal.emulator.errors import ValidationException
from smlocal.emulator.settings import EmulatorSettings


@dataclass
class Context:
    """State and collaborators injected into the operations (never module globals)."""

    store: Store
    settings: EmulatorSettings
    clock: Callable[[], float] = time.time
    services: dict[str, Any] = field(default_factory=dict)  # endpoint manager, job runner, ...

    @property
    def region(self) -> str:
        """The region every resource lives in."""
        return self.settings.region

    @property
    def account(self) -> str:
        """The account id in every ARN."""
        return self.settings.account

    def arn(self, resource: str, name: str) -> str:
        """arn:aws:sagemaker:{region}:{account}:{resource}/{name}, name lower-cased as AWS does."""
        return f"arn:aws:sagemaker:{self.region}:{self.account}:{resource}/{name.lower()}"

    def now(self) -> float:
        """Epoch seconds, millisecond precision like SageMaker's timestamps."""
        return round(self.clock(), 3)

    def service(self, name: str) -> Any:
        """A collaborator registered under a name (the endpoint manager, the job runner)."""
        return self.services[name]


def not_found(kind: str, arn: str) -> ValidationException:
    """SageMaker's not-found error; the SDK relies on "Could not find" in it."""
    return ValidationException(f'Could not find {kind} "{arn}".')


def already_exists(kind: str, arn: str) -> ValidationException:
    """SageMaker's duplicate-name error; the SDK relies on "Cannot create already existing"."""
    return ValidationException(f'Cannot create already existing {kind} "{arn}".')
