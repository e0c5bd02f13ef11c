"""The model servers of a transform job: the same fleet code that runs endpoints' instances.

A transform job's servers are started as a one-variant endpoint named after the job would
be (fetch and unpack the model, one server per instance, wait for /ping), with their logs
in `/aws/sagemaker/TransformJobs`, one stream per instance named `{job}/{instance id}`, as
SageMaker names them. `jobs.transform` reaches this through its `ModelServers` Protocol.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from smlocal.emulator.hosting.backends import VariantPlan
from smlocal.emulator.hosting.fleet import DeployError, Hosting, RunningVariant

LOG_GROUP = "/aws/sagemaker/TransformJobs"


@dataclass
class BatchServerGroup:
    """A job's running servers."""

    hosting: Hosting
    variant: RunningVariant
    ports: list[int] = field(default_factory=list)
    instance_ids: list[str] = field(default_factory=list)

    def close(self) -> None:
        """Stop the servers and remove the unpacked model."""
        self.hosting.stop([self.variant])


class BatchServers:
    """Starts transform jobs' model servers on hosting's fleet code."""

    def __init__(self, hosting: Hosting, startup_timeout: float) -> None:
        self.hosting = hosting
        self.startup_timeout = startup_timeout

    def start(
        self,
        job: str,
        image: str,
        model_data_url: str | None,
        env: dict[str, str],
        count: int,
        *,
        cancel: threading.Event,
    ) -> BatchServerGroup:
        """Start `count` servers and wait for /ping; RuntimeError saying why they did not
        (or that `cancel` was set: StopTransformJob)."""
        plan = VariantPlan(
            endpoint=job,
            variant=job,
            image=image,
            model_data_url=model_data_url,
            environment=env,
            instance_count=count,
            startup_timeout=self.startup_timeout,
            log_group=LOG_GROUP,
        )
        try:
            [variant] = self.hosting.start([plan], cancel)
        except DeployError as exc:
            raise RuntimeError(str(exc)) from None
        return BatchServerGroup(
            self.hosting,
            variant,
            [i.server.port for i in variant.instances],
            [i.plan.instance_id for i in variant.instances],
        )
