"""How a production variant's instances run: each instance its own model server (a child
process, or a Docker container) on its own port, as SageMaker's instances are separate hosts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from smlocal.emulator.hosting.endpoint_records import DataCaptureConfig
from smlocal.emulator.settings import EmulatorSettings
from smlocal.model_server.environment import (
    SAGEMAKER_MODEL_SERVER_WORKERS,
    SMLOCAL_CAPTURE_CONFIG,
    SMLOCAL_CAPTURE_ROLL_SECONDS,
    SMLOCAL_CAPTURE_SPOOL_DIR,
    SMLOCAL_ENDPOINT_NAME,
    SMLOCAL_VARIANT_NAME,
)


@dataclass(frozen=True)
class ContainerPlan:
    """One container of a multi-container variant: what it runs and, once the emulator has
    unpacked it, where its model is."""

    hostname: str
    image: str
    model_data_url: str | None
    environment: dict[str, str]
    model_dir: Path | None = None


@dataclass(frozen=True)
class VariantPlan:
    """Everything needed to run one production variant."""

    endpoint: str
    variant: str
    image: str
    model_data_url: str | None
    environment: dict[str, str]
    instance_count: int
    capture: DataCaptureConfig | None = None
    startup_timeout: float = 300.0
    model_dir: Path | None = None  # set once the emulator has fetched and unpacked the model
    instance_id: str = ""  # the instance this start of the server is (its log stream and file)
    instance: int = 0  # its place among the variant's instances (0, 1, ...): its capture spool
    serverless: bool = False  # a ServerlessConfig variant: its starts publish ModelSetupTime
    log_group: str | None = None  # its servers' log group, if not the endpoint's (transform jobs)
    # a multi-container model's containers (image, model and environment above are the first
    # one's) and its InferenceExecutionConfig.Mode; () and None for one container
    containers: tuple[ContainerPlan, ...] = ()
    execution_mode: str | None = None

    @property
    def unpacked_model(self) -> Path:
        """model_dir, which fleet.prepare sets before any backend is asked to start the plan."""
        if self.model_dir is None:
            raise RuntimeError(f"variant {self.variant} was not prepared: no unpacked model")
        return self.model_dir

    @property
    def workers(self) -> int:
        """gunicorn workers of each instance's server: SAGEMAKER_MODEL_SERVER_WORKERS, else one
        (smlocal's default since before instances were separate servers: one worker per
        instance; `smlocal serve` on its own defaults to one per core, as the container)."""
        return int(self.environment.get(SAGEMAKER_MODEL_SERVER_WORKERS) or 1)


class VariantServer(Protocol):
    """A running model server: one instance of a variant."""

    port: int
    log_path: Path

    def alive(self) -> bool:
        """True while it runs."""
        ...

    def stop(self, timeout: float = 40.0) -> None:
        """Stop gracefully (captures are flushed), forcefully after the timeout."""
        ...


class Backend(Protocol):
    """Starts the model servers of instances."""

    def start(self, plan: VariantPlan) -> VariantServer:
        """Start the server of the plan's instance (it may not be healthy yet)."""
        ...


def capture_environment(settings: EmulatorSettings, plan: VariantPlan) -> dict[str, str]:
    """The variables that make the model server capture like the endpoint config says."""
    if not plan.capture:
        return {}
    env = {
        SMLOCAL_CAPTURE_CONFIG: json.dumps(plan.capture),
        SMLOCAL_ENDPOINT_NAME: plan.endpoint,
        SMLOCAL_VARIANT_NAME: plan.variant,
        SMLOCAL_CAPTURE_SPOOL_DIR: str(spool_dir(settings, plan)),
    }
    if settings.capture_roll_seconds is not None:
        env[SMLOCAL_CAPTURE_ROLL_SECONDS] = str(settings.capture_roll_seconds)
    return env


def spool_dir(settings: EmulatorSettings, plan: VariantPlan) -> Path:
    """Where an instance's captured records wait for upload: one folder per place among the
    variant's instances, so instances never share files, kept across restarts (an instance
    that replaces another, or a restarted smlocal's, uploads what its predecessor left).

    The first instance keeps the variant's folder, where every variant spooled before
    instances were separate servers, so records spooled by an older smlocal are uploaded
    too; the others spool in `instance-{place}` below it (a spool reads only its own
    `spool/` and `sessions/` folders)."""
    root = settings.data_dir.resolve() / "capture-spool" / plan.endpoint / plan.variant
    return root if plan.instance == 0 else root / f"instance-{plan.instance}"


def log_path(settings: EmulatorSettings, plan: VariantPlan) -> Path:
    """The model server's log file: one per instance, as its CloudWatch log stream."""
    folder = settings.data_dir.resolve() / "logs" / "endpoints" / plan.endpoint
    name = f"{plan.variant}/{plan.instance_id}.log" if plan.instance_id else f"{plan.variant}.log"
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
