"""The default backend: the model server (`python -m smlocal.model_server serve`, which imports
neither the emulator nor Model Monitor) as a child process on a loopback port."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from pathlib import Path

from smlocal.emulator.hosting.backends import VariantPlan, capture_environment, log_path
from smlocal.emulator.settings import EmulatorSettings
from smlocal.emulator.support.interpreter import python_module
from smlocal.model_server.environment import (
    SAGEMAKER_REGION,
    SMLOCAL_EDGE_SOCKET_DIR,
    SMLOCAL_ENDPOINT_NAME,
    SMLOCAL_IMAGE,
    SMLOCAL_PARENT_PID,
    SMLOCAL_VARIANT_NAME,
)


class ProcessServer:
    """One instance: a gunicorn model server in its own process group, on its own port."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        port: int,
        log: Path,
        workers: int,
        unix_path: str | None = None,
    ) -> None:
        self.proc = proc
        self.port = port
        self.log_path = log
        self.workers = workers
        self.unix_path = unix_path  # the edge's way in (see edge_socket); None: the port

    def alive(self) -> bool:
        """True while the gunicorn master runs."""
        return self.proc.poll() is None

    def stop(self, timeout: float = 40.0) -> None:
        """SIGTERM (gunicorn drains requests, workers flush captures), SIGKILL to the whole
        group after the timeout; also kills the workers a killed master left behind."""
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        kill_orphans(self.proc)
        if self.unix_path is not None:
            shutil.rmtree(os.path.dirname(self.unix_path), ignore_errors=True)


def edge_socket() -> socket.socket | None:
    """A listening Unix socket for the edge's connections to one instance, in a private
    (0700) folder; None where no short enough path exists (then the edge uses the port).

    The edge is the only client of an instance it hosts; over a Unix socket each request and
    answer skip the TCP stack on both sides (less kernel CPU per invocation on the 2 cores the
    edge, the servers and the clients share). The port stays, for users, health checks and
    capture flushes.
    """
    folder = tempfile.mkdtemp(prefix="smlocal-")
    path = os.path.join(folder, "edge.sock")
    if len(os.fsencode(path)) > 100:  # sun_path holds 108 bytes with its NUL
        os.rmdir(folder)
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        sock.listen(1024)
    except OSError:
        sock.close()
        shutil.rmtree(folder, ignore_errors=True)
        return None
    sock.set_inheritable(True)
    return sock


def kill_orphans(leader: subprocess.Popen[bytes]) -> None:
    """SIGKILL what is left of a reaped leader's process group (workers of a killed master).

    While any member is alive, Linux keeps the group's id from being reused; once the leader
    is reaped, a live process with its pid would be a stranger, so the group is left alone.
    """
    if leader.poll() is None:
        return
    try:
        os.kill(leader.pid, 0)
    except ProcessLookupError:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(leader.pid, signal.SIGKILL)
    # else: the pid is in use by a new process (a stranger): leave it alone


class ProcessBackend:
    """Starts the model server of each instance as a child process."""

    def __init__(self, settings: EmulatorSettings) -> None:
        self.settings = settings

    def environment(self, plan: VariantPlan) -> dict[str, str]:
        """The child's environment: SageMaker's variables, S3 at the edge, capture settings."""
        base = dict(self.settings.env or os.environ)
        return {
            **base,
            "AWS_ACCESS_KEY_ID": base.get("AWS_ACCESS_KEY_ID", "test"),
            "AWS_SECRET_ACCESS_KEY": base.get("AWS_SECRET_ACCESS_KEY", "test"),
            "AWS_DEFAULT_REGION": self.settings.region,
            "AWS_ENDPOINT_URL": self.settings.edge_url,
            "AWS_ENDPOINT_URL_S3": self.settings.s3_url,
            SAGEMAKER_REGION: self.settings.region,
            **plan.environment,
            # smlocal's own, after the model's: a model cannot turn them off or point them
            SMLOCAL_PARENT_PID: str(os.getpid()),
            SMLOCAL_ENDPOINT_NAME: plan.endpoint,
            SMLOCAL_VARIANT_NAME: plan.variant,
            SMLOCAL_IMAGE: plan.image,
            **self.settings.model_server_switches,
            "PYTHONDONTWRITEBYTECODE": "1",  # no __pycache__ in the user's code folder
            **capture_environment(self.settings, plan),
        }

    def start(self, plan: VariantPlan) -> ProcessServer:
        """Spawn the model server bound to a socket we hold (so no other process takes the port)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(1024)
        sock.set_inheritable(True)
        log = log_path(self.settings, plan)
        args = [
            *python_module("smlocal.model_server"), "serve",
            "--bind", f"fd://{sock.fileno()}", "--workers", str(plan.workers),
            "--model-dir", str(plan.unpacked_model),
        ]  # fmt: skip
        listeners = [sock]
        env = self.environment(plan)
        edge = edge_socket()
        unix_path: str | None = None
        if edge is not None:
            listeners.append(edge)
            unix_path = str(edge.getsockname())
            args += ["--also-bind", f"fd://{edge.fileno()}"]
            env[SMLOCAL_EDGE_SOCKET_DIR] = os.path.dirname(unix_path)
        try:
            with open(log, "ab") as out:
                proc = subprocess.Popen(
                    args,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    env=env,
                    pass_fds=[s.fileno() for s in listeners],
                    start_new_session=True,  # our signals decide when it stops, not the terminal's
                )
        except BaseException:
            if unix_path is not None:
                shutil.rmtree(os.path.dirname(unix_path), ignore_errors=True)
            raise
        finally:
            port = sock.getsockname()[1]
            for s in listeners:
                s.close()
        return ProcessServer(proc, port, log, plan.workers, unix_path)
