"""Running training and processing jobs: a child process per job, its log in CloudWatch Logs.

Like SageMaker, the platform (this module and its callers) moves data: inputs are
downloaded into the job's folder before the child starts, outputs uploaded after it exits.
The child only sees local folders. Its stdout and stderr lines go, as they come, to the
job's log file and to CloudWatch Logs (`/aws/sagemaker/TrainingJobs`,
`/aws/sagemaker/ProcessingJobs`), where the SDK's `wait(logs=True)` reads them. Like
SageMaker's log agent, the CloudWatch copy has control characters escaped as `#` and three
octal digits (a tab is `#011`), which metric definitions' regular expressions rely on.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from smlocal.emulator.support.cloudwatch import LogShipper

log = logging.getLogger(__name__)
JOB_MARK = "SMLOCAL_JOB_PROCESS"  # in every job process's environment: what it left behind


@dataclass
class JobProcess:
    """What to run for a job, and where its log goes."""

    kind: str  # the store's kind ("training-job", "processing-job"): each names its jobs apart
    name: str
    argv: Sequence[str]
    folder: Path
    log_group: str
    log_stream: str
    env: Mapping[str, str] = field(default_factory=dict)
    max_runtime: float | None = None


@dataclass
class JobExit:
    """How a job's process ended."""

    returncode: int
    stopped: bool  # StopTrainingJob / StopProcessingJob asked for it
    timed_out: bool  # MaxRuntimeInSeconds passed
    lines: list[str]


Key = tuple[str, str]  # (kind, name)


class JobRunner:
    """Starts job processes and remembers them so they can be stopped.

    Jobs are known by kind and name: a training job and a processing job may share a name,
    and stopping one must not reach the other. Once `stop_all` has run (the emulator is
    stopping), no job process starts, and one that was being started is stopped at once: a
    job still downloading its inputs at shutdown would otherwise start its process after
    the stop and outlive the emulator.
    """

    def __init__(self, shipper: LogShipper, owner: str = "") -> None:
        self.shipper = shipper
        self.owner = owner  # the start of every job mark: whose data directory ran the job
        self.running: dict[Key, subprocess.Popen[bytes]] = {}
        self.stop_requested: set[Key] = set()
        self.closed = threading.Event()
        self.lock = threading.Lock()

    def run(self, job: JobProcess, on_line: Callable[[str], None] | None = None) -> JobExit:
        """Run a job's process to the end (in the caller's thread); ship its output.

        `on_line` gets each line as CloudWatch holds it (escaped), as SageMaker's metric
        definitions see it.
        """
        key = (job.kind, job.name)
        with self.lock:
            if self.closed.is_set():
                self.stop_requested.discard(key)
                return JobExit(-signal.SIGTERM, stopped=True, timed_out=False, lines=[])
        job.folder.mkdir(parents=True, exist_ok=True)
        mark = f"{self.owner}{job.name}-{uuid.uuid4().hex}"
        env = {**os.environ, **job.env, "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1",
               JOB_MARK: mark}  # fmt: skip
        proc = subprocess.Popen(
            list(job.argv),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=job.folder,
            env=env,
            start_new_session=True,
        )
        with self.lock:
            self.running[key] = proc
            if self.closed.is_set():  # stop_all ran while the process was being started
                self.stop_requested.add(key)
            stop_first = key in self.stop_requested
        if stop_first:  # stopped while its inputs were downloading, or smlocal is stopping
            _terminate(proc)
        timer = _timeout_timer(proc, job.max_runtime)
        threading.Thread(target=_end_with, args=(proc, mark), daemon=True).start()
        lines: list[str] = []
        stream = self.shipper.stream(job.log_group, job.log_stream)
        assert proc.stdout is not None
        with open(job.folder / "job.log", "a") as logfile, proc.stdout:  # the pipe closed too
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                lines.append(line)
                logfile.write(line + "\n")
                shipped = syslog_escape(line)
                stream.append(shipped)
                if on_line is not None:
                    on_line(shipped)
        returncode = proc.wait()
        stream.close()
        timed_out = timer is not None and timer.fired
        if timer is not None:
            timer.cancel()
        with self.lock:
            self.running.pop(key, None)
            stopped = key in self.stop_requested
            self.stop_requested.discard(key)
        return JobExit(returncode, stopped, timed_out, lines)

    def stop(self, kind: str, name: str) -> bool:
        """SIGTERM a running job (SIGKILL 10 s later); False if it is not running yet, in
        which case its process is stopped as soon as `run` starts it."""
        with self.lock:
            self.stop_requested.add((kind, name))
            proc = self.running.get((kind, name))
            if proc is None:
                return False
        _terminate(proc)
        return True

    def kill_leftovers(self) -> int:
        """At start-up: SIGKILL the processes of jobs this data directory's previous emulator
        ran and could not stop (it was killed); how many. The data directory is locked, so
        no running emulator owns them; a process without the mark is never touched."""
        if not self.owner:
            return 0
        return kill_marked(self.owner, prefix=True)

    def stop_all(self) -> None:
        """Stop every running job and start no more (the emulator is stopping)."""
        with self.lock:
            self.closed.set()
            keys = list(self.running)
        for kind, name in keys:
            self.stop(kind, name)


class _Timer:
    def __init__(self, proc: subprocess.Popen[bytes], seconds: float) -> None:
        self.fired = False
        self.proc = proc
        self.timer = threading.Timer(seconds, self._fire)
        self.timer.daemon = True
        self.timer.start()

    def _fire(self) -> None:
        self.fired = True
        _terminate(self.proc)

    def cancel(self) -> None:
        self.timer.cancel()


def _timeout_timer(proc: subprocess.Popen[bytes], seconds: float | None) -> _Timer | None:
    return _Timer(proc, seconds) if seconds else None


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the job's process group, SIGKILL it if it is still there 10 s later."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return

    def kill_later() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)

    threading.Thread(target=kill_later, daemon=True).start()


def _end_with(proc: subprocess.Popen[bytes], mark: str) -> None:
    """Once the job's process exits, SIGKILL what it started and left running (a container
    ends with its main process): without this, a process in a session of its own would run
    on, and hold the job's output pipe open, so the job would never end."""
    proc.wait()
    for _ in range(3):  # a process may fork while the others are killed
        if not kill_marked(mark):
            return


def kill_marked(mark: str, *, prefix: bool = False) -> int:
    """SIGKILL every process whose environment carries this job mark (with `prefix`, a mark
    starting with it); how many (Linux's /proc; elsewhere nothing is found)."""
    wanted = f"{JOB_MARK}={mark}".encode()
    killed = 0
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ:
                variables = environ.read().split(b"\0")
            if not any(v.startswith(wanted) if prefix else v == wanted for v in variables):
                continue
            os.kill(int(entry), signal.SIGKILL)
            killed += 1
        except (OSError, ValueError):
            continue
    return killed


def owner_of(data_dir: Path) -> str:
    """The job-mark prefix of an emulator with this data directory."""
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return f"smlocal-{digest}:"


def syslog_escape(line: str) -> str:
    """Control characters as SageMaker's log agent writes them: `#` and three octal digits."""
    if all(ch >= " " for ch in line):
        return line
    return "".join(f"#{ord(ch):03o}" if ch < " " else ch for ch in line)


def summary_lines(lines: list[str], count: int = 5) -> str:
    """The last few lines of a job's output, for a FailureReason."""
    tail = [line for line in lines if line.strip()][-count:]
    return " | ".join(tail)
