"""Watches every serving instance's model server and reports dead ones to the endpoint
manager, which replaces each alone as SageMaker replaces an unhealthy instance (or, for an
instance that keeps dying, takes the endpoint to Failed).

Once a second each live instance's server is asked whether it still runs: the gunicorn
master of the process backend, the container of the Docker one (gunicorn itself replaces
workers that die). An instance is reported every round until it is replaced: the manager
heals each dead instance once, and if that heal was superseded it is reported, and healed,
again.
"""

from __future__ import annotations

import logging

from smlocal.emulator.hosting.endpoint_manager import EndpointManager
from smlocal.emulator.support.rounds import Rounds

log = logging.getLogger(__name__)
INTERVAL = 1.0


class Supervisor(Rounds):
    """A thread that checks every serving instance's server once per interval (stopped
    before the servers are stopped on purpose)."""

    def __init__(self, manager: EndpointManager, interval: float = INTERVAL) -> None:
        super().__init__(interval, "supervisor", log, "the supervisor's check failed")
        self.manager = manager

    def check(self) -> None:
        """One round: report every dead instance to the manager."""
        for key, variant, instance in self.manager.live_instances():
            try:
                alive = instance.server.alive()
            except Exception:  # a backend that cannot tell counts as dead
                log.exception(
                    "cannot tell whether %s/%s/%s runs", key, variant, instance.plan.instance_id
                )
                alive = False
            if not alive:
                self.manager.report_dead(key, variant, instance)
