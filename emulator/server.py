"""`smlocal up`: wire the edge, the control plane, the endpoint and training managers and
moto, and serve.

Start: restore S3 objects and the store from the data directory, listen, bring back the
endpoints that were serving (training jobs that were running end Failed), then report ready
on /_smlocal/health. Stop (SIGTERM or Ctrl-C): end running pipeline executions (as a restart
would: Failed, to be retried), stop every training job and model server
while the edge still serves (their logs and captures reach CloudWatch and S3 through it),
then close the edge and write what is left to disk.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import json
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from smlocal.cli_common import CommandFailed, port_in_use
from smlocal.emulator.console.app import Console
from smlocal.emulator.console.sources import Sources
from smlocal.emulator.control.context import Context, Managers
from smlocal.emulator.control.endpoints import EndpointDocuments
from smlocal.emulator.control.experiment_metrics import MetricsPlane
from smlocal.emulator.control.monitoring_executions import execution_finished, start_execution
from smlocal.emulator.control.operations import ControlPlane
from smlocal.emulator.embedded.services import S3Persistence, embedded_services
from smlocal.emulator.hosting.async_queue import MAX_BACKLOG, AsyncQueues
from smlocal.emulator.hosting.batch_servers import BatchServers
from smlocal.emulator.hosting.capture_flush import flush_quietly
from smlocal.emulator.hosting.endpoint_manager import EndpointManager
from smlocal.emulator.hosting.routing import RoutingTable
from smlocal.emulator.hosting.serverless import ServerlessScaler
from smlocal.emulator.hosting.supervisor import Supervisor
from smlocal.emulator.jobs.pipelines.executor import PipelineExecutor
from smlocal.emulator.jobs.processing import Processing
from smlocal.emulator.jobs.runner import JobRunner, owner_of
from smlocal.emulator.jobs.scheduler import Scheduler
from smlocal.emulator.jobs.training.manager import TrainingManager
from smlocal.emulator.jobs.transform import Transform
from smlocal.emulator.jobs.tuning.tuner import Tuner
from smlocal.emulator.runtime.async_invoke import AsyncRuntime
from smlocal.emulator.runtime.invoke import Runtime
from smlocal.emulator.runtime.metrics import EndpointMetrics
from smlocal.emulator.settings import EmulatorSettings
from smlocal.emulator.support.cloudwatch import LogShipper
from smlocal.emulator.support.durable import durable_write
from smlocal.emulator.support.store import Store
from smlocal.emulator.wire.edge import ControlBridge, Edge, FlushBridge
from smlocal.emulator.wire.guard import LocalOnly, trust_from_settings
from smlocal.emulator.wire.http_server import Handler, HttpServer, serve
from smlocal.emulator.wire.rest_bridge import RestBridge
from smlocal.emulator.wire.service_models import metrics_model, runtime_model, sagemaker_model
from smlocal.emulator.wire.validation import validate
from smlocal.emulator.wire.wsgi_bridge import WSGIBridge

log = logging.getLogger("smlocal")


@dataclass
class Health:
    """What /_smlocal/health reports."""

    state: str = "starting"
    detail: str = ""

    def answer(self, ctx: Context | None) -> tuple[int, dict[str, Any]]:
        """200 once ready, 503 before and while stopping."""
        document: dict[str, Any] = {"status": self.state}
        if self.detail:
            document["detail"] = self.detail
        if ctx is not None:
            document.update(
                {
                    "region": ctx.region,
                    "account": ctx.account,
                    "endpoints": len(ctx.store.all("endpoint")),
                    "s3": ctx.settings.s3_endpoint or "embedded",
                    "dataDir": str(ctx.settings.data_dir.resolve()),
                }
            )
        return (200 if self.state == "ready" else 503), document


def transform_runner(ctx: Context, manager: EndpointManager) -> Transform:
    """The transform job runner on hosting's fleet code; jobs a restart interrupted fail."""
    transform = Transform(ctx, BatchServers(manager.hosting, ctx.settings.startup_timeout))
    transform.abandon_unfinished()
    return transform


def endpoint_metrics(settings: EmulatorSettings, manager: EndpointManager) -> EndpointMetrics:
    """The runtime's CloudWatch metrics, told of each serverless variant's (cold) set-up."""
    metrics = EndpointMetrics(settings)
    manager.hosting.setup_listeners.append(
        lambda plan, seconds: (
            metrics.setup(plan.endpoint, plan.variant, seconds) if plan.serverless else None
        )
    )
    return metrics


def async_queues(
    settings: EmulatorSettings,
    table: RoutingTable,
    loop: asyncio.AbstractEventLoop,
    manager: EndpointManager,
) -> AsyncQueues:
    """Every async endpoint's durable request queue (SMLOCAL_ASYNC_MAX_BACKLOG bounds each)."""
    backlog = settings.env.get("SMLOCAL_ASYNC_MAX_BACKLOG") or MAX_BACKLOG
    queues = AsyncQueues(settings, table, loop, manager.status_of, max_backlog=int(backlog))
    manager.delete_listeners.append(queues.forget)
    return queues


def wait_for_jobs(processing: Processing, transform: Transform) -> None:
    """At shutdown: let processing jobs end, stop transform jobs (30 s each at most)."""
    processing.wait(30.0)
    transform.shutdown(30.0)


def clock_from_env() -> Callable[[], float]:
    """The emulator's clock: real time, or (SMLOCAL_CLOCK_START, a testing aid) real time
    shifted so that it read that ISO 8601 instant when the emulator started."""
    start = os.environ.get("SMLOCAL_CLOCK_START")
    if not start:
        return time.time
    offset = datetime.fromisoformat(start.replace("Z", "+00:00")).timestamp() - time.time()
    return lambda: time.time() + offset


def bind(host: str, port: int) -> socket.socket:
    """The edge's listening socket."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CommandFailed(port_in_use(port)) from None
        raise CommandFailed(
            f"cannot listen on {host} port {port} ({exc.strerror or exc}); choose another "
            "address with --host or SMLOCAL_HOST"
        ) from None
    sock.listen(1024)
    return sock


class Emulator:
    """The running emulator."""

    def __init__(self, settings: EmulatorSettings, ready_file: Path | None = None) -> None:
        self.settings = settings
        self.ready_file = ready_file
        self.health = Health()
        self.ctx: Context | None = None
        self.stop_event: asyncio.Event | None = None

    def run(self) -> int:
        """Serve until SIGTERM or SIGINT; return the exit status."""
        self._lock = hold_data_dir(self.settings.data_dir)
        try:
            import uvloop

            uvloop.install()
        except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
            pass
        asyncio.run(self._main())
        return 0

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        self.stop_event = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop_event.set)
        data_dir = self.settings.data_dir
        make_private_dir(data_dir)
        sock = bind(self.settings.host, self.settings.port)
        self.settings = replace(self.settings, port=sock.getsockname()[1])
        executor = ThreadPoolExecutor(32, thread_name_prefix="edge")
        persistence = S3Persistence(data_dir / "s3")
        persistence.install()
        restored = persistence.restore()
        ctx = self.ctx = Context(Store(data_dir / "state.db"), self.settings, clock_from_env())
        table = RoutingTable()
        manager = EndpointManager(ctx, EndpointDocuments(ctx), table, loop)
        runner = job_runner(self.settings)
        training = TrainingManager(ctx, runner)
        processing = Processing(ctx, runner, lambda name: flush_quietly(manager, name))
        transform = transform_runner(ctx, manager)
        ctx.managers = Managers(
            endpoints=manager,
            training=training,
            processing=processing,
            pipelines=pipeline_executor(ctx),
            transform=transform,
            tuning=Tuner(ctx, validated(ControlPlane(ctx))),
        )
        processing.listeners.append(lambda job: execution_finished(ctx, job))
        scheduler = Scheduler(ctx, lambda schedule, fired: start_execution(ctx, schedule, fired))
        supervisor = Supervisor(manager)
        scaler = ServerlessScaler(manager)
        metrics = endpoint_metrics(self.settings, manager)
        control = ControlPlane(ctx)
        queues = async_queues(self.settings, table, loop, manager)
        await loop.run_in_executor(executor, queues.restore)  # before the edge takes requests
        edge = Edge(
            Runtime(
                runtime_model(),
                table,
                self.settings,
                manager.status_of,
                metrics=metrics,
                waker=scaler.wake,
            ),
            ControlBridge(sagemaker_model(), control, loop, executor),
            WSGIBridge(embedded_services(persistence), loop, executor, self.settings.port),
            lambda: self.health.answer(ctx),
            FlushBridge(manager, loop, executor),
            console=Console(Sources(ctx, control, manager, metrics), loop, executor),
            metrics=RestBridge(metrics_model(), MetricsPlane(ctx), loop, executor),
            async_runtime=AsyncRuntime(
                runtime_model(),
                table,
                queues,
                settings=self.settings,
                status_of=manager.status_of,
                loop=loop,
                executor=executor,
            ),
        )
        guarded = LocalOnly(edge, trust_from_settings(self.settings))
        servers = [await serve(guarded, sock)]
        if self.settings.backend == "docker":
            servers += await self._serve_containers(guarded)
        log.info("smlocal listening on %s (data in %s, %d S3 objects restored)",
                 self.settings.edge_url, data_dir.resolve(), restored)  # fmt: skip
        processing.abandon_unfinished()
        await loop.run_in_executor(executor, self._start_services, manager, training)
        # the async queues after the endpoints are back: their queued requests go on
        for service in (queues, scheduler, supervisor, scaler, metrics):
            service.start()
        await self.stop_event.wait()
        log.info("stopping: training jobs and model servers first, so logs and captures land")
        self.health.state = "stopping"
        for background in (scheduler, supervisor, scaler):
            background.stop()
        for step in (
            lambda: stop_jobs(ctx, training),
            runner.stop_all,
            queues.stop,  # requests with the model finish first; queued ones stay on disk
            manager.shutdown,
            metrics.stop,
            lambda: wait_for_jobs(processing, transform),
        ):
            await loop.run_in_executor(executor, step)
        for server in servers:
            server.close()
            await server.wait_closed()
        ctx.store.close()
        executor.shutdown(wait=False, cancel_futures=True)
        log.info("stopped")

    async def _serve_containers(self, edge: Handler) -> list[HttpServer]:
        """With --backend docker, containers reach the edge through the Docker bridge's
        gateway (`host.docker.internal`): listen there too, on the same port."""
        from smlocal.emulator.hosting.backends.docker import bridge_gateway

        gateway = bridge_gateway()
        if gateway is None or self.settings.host in ("0.0.0.0", "::", gateway):
            return []
        log.info("also listening on %s:%d for containers", gateway, self.settings.port)
        return [await serve(edge, bind(gateway, self.settings.port))]

    def _start_services(self, manager: EndpointManager, training: TrainingManager) -> None:
        training.restore()
        if self.ctx is not None and isinstance(self.ctx.managers.tuning, Tuner):
            self.ctx.managers.tuning.abandon_unfinished()  # its training jobs have ended
        manager.restore()
        example = self._example(manager) if self.settings.example else ""
        self.health.state = "ready"
        url = self.settings.edge_url
        if self.ready_file is not None:
            # whole or not at all: a reader polling for the file never sees half of it
            document = json.dumps({"url": url, "pid": os.getpid()}).encode()
            durable_write(self.ready_file, [document], sync=False)
        print(f"smlocal is ready at {url}", file=sys.stderr, flush=True)
        print(f"console: {url}/_smlocal/", file=sys.stderr, flush=True)
        if example:
            print(f"\n{example}\n", file=sys.stderr, flush=True)

    def _example(self, manager: EndpointManager) -> str:
        """Bring up the example endpoint; what to print about it (health's detail too)."""
        from smlocal.emulator.demo import ExampleUnavailable, create_example_endpoint

        assert self.ctx is not None
        try:
            self.health.detail = create_example_endpoint(self.ctx, manager)
        except ExampleUnavailable as exc:
            self.health.detail = f"the example endpoint cannot serve: {exc}"
            return f"The example endpoint cannot serve: {exc}"
        return f"Try the example endpoint:\n{self.health.detail}"


def stop_jobs(ctx: Context, training: TrainingManager) -> None:
    """Running pipeline executions and tuning jobs end first (so no step or tuner starts a
    job or records the ones being stopped), then the training jobs stop."""
    if isinstance(ctx.managers.pipelines, PipelineExecutor):
        ctx.managers.pipelines.shutdown()
    if isinstance(ctx.managers.tuning, Tuner):
        ctx.managers.tuning.shutdown()
    training.shutdown()


def pipeline_executor(ctx: Context) -> PipelineExecutor:
    """The pipeline executor; executions that were running when smlocal stopped end first."""
    executor = PipelineExecutor(ctx, validated(ControlPlane(ctx)))
    executor.abandon_unfinished()
    return executor


def validated(plane: ControlPlane) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
    """The control plane as a pipeline's steps call it: each request checked against
    botocore's model first, as a request from a client is."""

    def call(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        validate(sagemaker_model(), operation, params)
        return plane(operation, params)

    return call


def job_runner(settings: EmulatorSettings) -> JobRunner:
    """The job runner; first, the processes of jobs that an emulator of this data directory
    left running when it was killed (SIGKILL gave it no time to stop them) are ended."""
    runner = JobRunner(LogShipper(settings), owner_of(settings.data_dir))
    if killed := runner.kill_leftovers():
        log.warning("ended %d process(es) of jobs left running by a killed emulator", killed)
    return runner


def hold_data_dir(data_dir: Path) -> int:
    """Lock the data directory for this process (released when it exits, even by kill -9):
    two emulators on one directory would remove each other's scratch folders and serve each
    other's endpoints twice."""
    make_private_dir(data_dir)
    lock = data_dir / ".lock"
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise CommandFailed(
            f"cannot lock the data directory with {lock.resolve()} ({exc.strerror or exc}); "
            "remove what is there, or give another --data-dir"
        ) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise CommandFailed(
            f"the data directory {data_dir.resolve()} is in use by another smlocal (pid "
            f"{holder}); stop that one, or give this one another --data-dir"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def make_private_dir(folder: Path) -> None:
    """Create the data directory readable by its owner only (captured payloads, models and
    credentials-bearing logs live there); an existing folder keeps its permissions."""
    if not folder.exists():
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.mkdir(mode=0o700, exist_ok=True)


def check_data_dir(given: Path) -> Path:
    """The data directory, resolved; CommandFailed, naming the path, when it is a file or a
    symlink loop, or cannot be made (a file where one of its parents should be)."""
    hint = "give another with --data-dir or SMLOCAL_DATA_DIR"
    try:
        data_dir = given.resolve()
    except RuntimeError:  # a symlink loop (Python 3.13 leaves it unresolved instead)
        data_dir = given
    if data_dir.is_symlink() or (data_dir.exists() and not data_dir.is_dir()):
        raise CommandFailed(f"the data directory {data_dir} is not a folder; {hint}")
    for folder in (data_dir / "logs", data_dir / "s3"):
        if folder.exists() and not folder.is_dir():
            raise CommandFailed(
                f"the data directory {data_dir} is damaged: {folder} should be a folder; move "
                f"that file away, or {hint}"
            )
    blocking = next((p for p in data_dir.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise CommandFailed(
            f"the data directory {data_dir} cannot be made: {blocking} is a file; {hint}"
        )
    return data_dir


def configure_logging(settings: EmulatorSettings, level: int = logging.INFO) -> None:
    """Log to stderr and to {data_dir}/logs/emulator.log."""
    data_dir = check_data_dir(settings.data_dir)
    logs = data_dir / "logs"
    try:
        make_private_dir(data_dir)
        logs.mkdir(exist_ok=True)
        handlers: list[logging.Handler] = [
            logging.StreamHandler(sys.stderr),
            logging.FileHandler(logs / "emulator.log"),
        ]
    except OSError as exc:
        raise CommandFailed(
            f"cannot keep logs in {logs} ({exc.strerror or exc}); use another --data-dir or "
            "make that a folder smlocal can write"
        ) from None
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
