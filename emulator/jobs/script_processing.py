"""Processing jobs running a user's command in SageMaker's scikit-learn or XGBoost image.

What the SDK's `SKLearnProcessor`, `ScriptProcessor`, `FrameworkProcessor` and `Processor`
send: `ContainerEntrypoint` (`python3 /opt/ml/processing/input/code/x.py`, or `/bin/bash
.../entrypoint/runproc.sh` which untars `sourcedir.tar.gz` and pip-installs its
`requirements.txt`) and `ContainerArguments`, with the code among the inputs. The caller
has downloaded the inputs into `{folder}/opt/ml/...`; this module writes the config files
the container has, makes each output's folder, runs the command (`sandbox`: it sees
`/opt/ml` as the job's folder; `environments`: `python`, `python3` and `pip` are a cached
environment for the job's requirements), uploads Continuous outputs while it runs and all
outputs at the end, and says how the job ended in SageMaker's words.
"""

from __future__ import annotations

import json
import logging
import os
import tarfile
import threading
import time
from pathlib import Path
from typing import Any

from smlocal.emulator.jobs.environments import RequirementsFailed, ScriptHost, environment_bin
from smlocal.emulator.jobs.processing_io import (
    LOG_GROUP,
    MESSAGE_FILE,
    Ending,
    JobFailed,
    in_job,
    s3_outputs,
    upload_outputs,
)
from smlocal.emulator.jobs.processing_records import KIND, ProcessingJob
from smlocal.emulator.jobs.runner import JobProcess, JobRunner
from smlocal.emulator.jobs.sandbox import contained_command

log = logging.getLogger(__name__)
ALGORITHM_ERROR = "AlgorithmError: See job logs for more information"
EXIT_MESSAGE_MAX = 1024  # ExitMessage holds up to 1 KB
CONTINUOUS_EVERY = 1.0  # seconds between uploads of Continuous outputs
WORKDIR = "/opt/ml/processing"


def command(job: ProcessingJob) -> list[str]:
    """ContainerEntrypoint then ContainerArguments; JobFailed without an entrypoint."""
    spec = job.app_specification
    entrypoint = list(spec.get("ContainerEntrypoint") or [])
    if not entrypoint:
        raise JobFailed(
            f"ClientError: {spec['ImageUri']} has no ContainerEntrypoint: smlocal runs the "
            "scikit-learn and XGBoost images' processing jobs through the entrypoint the job "
            "gives (as the SDK's processors do); the image's own entrypoint is not emulated."
        )
    return entrypoint + list(spec.get("ContainerArguments") or [])


def write_config(job: ProcessingJob, root: Path) -> None:
    """/opt/ml/config/processingjobconfig.json and resourceconfig.json, as the container has."""
    config = root / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "processingjobconfig.json").write_text(json.dumps(job.public(), default=str))
    resources = {"current_host": "algo-1", "hosts": ["algo-1"]}
    (config / "resourceconfig.json").write_text(json.dumps(resources))


def requirements_of(job: ProcessingJob, folder: Path) -> Path | None:
    """The code input's requirements.txt, loose or inside its sourcedir.tar.gz, if any."""
    for item in job.inputs or []:
        if item["InputName"] != "code" or "S3Input" not in item:
            continue
        code = in_job(folder, item["S3Input"]["LocalPath"], "LocalPath")
        if (code / "requirements.txt").is_file():
            return code / "requirements.txt"
        archive = code / "sourcedir.tar.gz"
        if archive.is_file():
            return _requirements_in(archive, folder / "requirements.txt")
    return None


def _requirements_in(archive: Path, target: Path) -> Path | None:
    with tarfile.open(archive) as tar:
        try:
            member = tar.extractfile("requirements.txt")
        except KeyError:
            return None
        if member is None:
            return None
        target.write_bytes(member.read())
    return target


def script_environment(job: ProcessingJob, bin_folder: Path) -> dict[str, str]:
    """The job's Environment, with the cached Python first on PATH and pip kept offline."""
    environment = dict(job.environment or {})
    if "PIP_INDEX_URL" not in environment:
        environment.setdefault("PIP_NO_INDEX", "1")
    environment["PATH"] = f"{bin_folder}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"
    return environment


def run_script(
    runner: JobRunner,
    s3: Any,
    job: ProcessingJob,
    folder: Path,
    host: ScriptHost,
) -> Ending:
    """Run the job's command on its downloaded inputs; upload its outputs."""
    root = folder / "opt" / "ml"
    argv = command(job)
    write_config(job, root)
    for output in s3_outputs(job):
        in_job(folder, output["S3Output"]["LocalPath"], "LocalPath").mkdir(
            parents=True, exist_ok=True
        )
    bin_folder = _python(job, folder, host.cache)
    environment = {**host.aws, **script_environment(job, bin_folder)}
    program, env = contained_command(root, argv, WORKDIR, environment, host.namespace)
    process = JobProcess(
        kind=KIND,
        name=job.name,
        argv=program,
        folder=folder,
        log_group=LOG_GROUP,
        log_stream=f"{job.name}/algo-1-{int(time.time())}",
        env=env,
        max_runtime=job.max_runtime,
    )
    with ContinuousUploads(s3, job, folder):
        exit_ = runner.run(process)
    message = folder / MESSAGE_FILE.lstrip("/")
    written = message.read_text(errors="replace").strip() if message.is_file() else ""
    if exit_.stopped:
        return Ending("Stopped", exit_message=written or None)
    if exit_.timed_out:
        return Ending("Failed", failure_reason="The job exceeded its MaxRuntimeInSeconds.")
    if exit_.returncode != 0:
        tail = "\n".join(exit_.lines)[-EXIT_MESSAGE_MAX:]
        return Ending("Failed", failure_reason=ALGORITHM_ERROR, exit_message=written or tail)
    upload_outputs(s3, job, folder)
    return Ending("Completed", exit_message=written[:EXIT_MESSAGE_MAX] or None)


def _python(job: ProcessingJob, folder: Path, cache: Path) -> Path:
    """The environment for the code's requirements; the base one when pip cannot install
    them, so that the job's own `pip install` (runproc.sh) fails in the log as on AWS."""
    try:
        return environment_bin(cache, requirements_of(job, folder), job.environment)
    except RequirementsFailed as exc:
        log.info("processing job %s: requirements not installed ahead: %s", job.name, exc)
        return environment_bin(cache, None)


class ContinuousUploads:
    """While the job runs, its Continuous outputs are uploaded every second."""

    def __init__(self, s3: Any, job: ProcessingJob, folder: Path) -> None:
        self.s3, self.job, self.folder = s3, job, folder
        self.done = threading.Event()
        self.thread: threading.Thread | None = None

    def __enter__(self) -> ContinuousUploads:
        if s3_outputs(self.job, "Continuous"):
            self.thread = threading.Thread(target=self._loop, daemon=True)
            self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        if self.thread is not None:
            self.thread.join()

    def _loop(self) -> None:
        while not self.done.wait(CONTINUOUS_EVERY):
            try:
                upload_outputs(self.s3, self.job, self.folder, "Continuous")
            except JobFailed as exc:  # the upload at the end reports it, if it persists
                log.warning("processing job %s: %s", self.job.name, exc)
