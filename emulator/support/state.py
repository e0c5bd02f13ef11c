"""What the control plane and the managers below it share: the store, the settings, the clock.

The control plane's `Context` is a `State` with the managers wired in; the managers
(`hosting`, `jobs`) are given the `State` only, so they never reach back into the control
plane through it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from smlocal.emulator.settings import EmulatorSettings
from smlocal.emulator.support.store import Store


@dataclass
class State:
    """The resources' documents, the settings, and the clock the emulator runs on."""

    store: Store
    settings: EmulatorSettings
    clock: Callable[[], float] = time.time

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
