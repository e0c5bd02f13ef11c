"""Runs training jobs in the background, moving each through its statuses in the store.

One thread per job: Starting (image and output bucket checked) -> Downloading (channels
into the job folder) -> Training (the algorithm in a child process, through the JobRunner,
its output in CloudWatch Logs) -> Uploading (model.tar.gz) -> Completed; Failed with the
algorithm's FailureReason; Stopping -> Stopped on StopTrainingJob; MaxRuntimeExceeded when
StoppingCondition.MaxRuntimeInSeconds passes. A job whose hyperparameters name a
`sagemaker_program` runs the user's script instead (`script_mode`). A job that was running
when smlocal stopped (or was killed) ends Failed with a reason saying so: it is not re-run,
because a re-run would train on data that may have changed since CreateTrainingJob returned.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import smlocal
from smlocal.emulator.jobs.environments import ScriptHost
from smlocal.emulator.jobs.runner import JobExit, JobProcess, JobRunner, summary_lines
from smlocal.emulator.jobs.training.metrics import MetricCollector, MetricData
from smlocal.emulator.jobs.training.records import KIND, AlgorithmSpecification, TrainingJob
from smlocal.emulator.jobs.training.script_mode import is_script_mode, launch, script_failure
from smlocal.emulator.jobs.training.workspace import (
    JobFailure,
    Workspace,
    check_channels,
    check_output_bucket,
    download_channels,
    missing_input,
    upload_model,
)
from smlocal.emulator.statuses.training_jobs import TERMINAL, ending
from smlocal.emulator.support.clients import client
from smlocal.emulator.support.interpreter import python_module
from smlocal.emulator.support.state import State
from smlocal.model_server.environment import SMLOCAL_IMAGE
from smlocal.model_server.images import Role, labels, parse_image, repositories, with_role

log = logging.getLogger(__name__)
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
ALGORITHM = "smlocal.emulator.jobs.training.xgboost_algorithm"
FAILURE_REASON_MAX = 1024
METRICS_PER_CALL = 1000  # PutMetricData's limit of entries per call
INTERRUPTED = (
    "InternalServerError: The training job was interrupted: smlocal stopped while it was in "
    "secondary status {status}. Create the training job again, with a new name."
)


class _Halt(Exception):
    """The job is being stopped (StopTrainingJob) or smlocal is shutting down."""


class TrainingManager:
    """Starts, stops and restores training jobs; the control plane's `training` service."""

    def __init__(self, ctx: State, runner: JobRunner) -> None:
        self.ctx = ctx
        self.runner = runner
        self.threads: dict[str, threading.Thread] = {}
        self.lock = threading.Lock()
        self.shutting_down = False
        self._s3: Any = None

    @property
    def s3(self) -> Any:
        """The S3 client the emulator moves data with (made on first use)."""
        if self._s3 is None:
            self._s3 = client(self.ctx.settings, "s3")
        return self._s3

    def workspace(self, name: str) -> Workspace:
        """A job's folder."""
        return Workspace(self.ctx.settings.data_dir.resolve() / "training-jobs" / name)

    # -- what the control plane calls ------------------------------------------------------

    def missing_input(self, params: dict[str, Any]) -> str | None:
        """SageMaker's message when a channel's S3 URI has no objects, else None."""
        return missing_input(
            self.s3, params.get("InputDataConfig", []), self.ctx.region, params["RoleArn"]
        )

    def start(self, name: str) -> None:
        """Run a Starting job in the background."""
        thread = threading.Thread(target=self._run, args=(name,), name=f"train-{name}", daemon=True)
        with self.lock:
            self.threads[name.lower()] = thread
        thread.start()

    def stop(self, name: str) -> None:
        """Signal a Stopping job's algorithm (now, or as soon as it has started)."""
        with self.lock:
            thread = self.threads.get(name.lower())
        if thread is not None:
            threading.Thread(target=self._signal, args=(name, thread), daemon=True).start()

    def restore(self) -> None:
        """After a restart: jobs that were running end Failed; those being stopped, Stopped."""
        for doc in self.ctx.store.all(KIND):
            job = TrainingJob.from_document(doc)
            if job.secondary_status in TERMINAL:
                continue
            if job.secondary_status == "Stopping":
                self._end(job.name, "Stopped")
            else:
                reason = INTERRUPTED.format(status=job.secondary_status)
                self._end(job.name, "Failed", reason=reason)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for every job thread (tests and shutdown)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self.lock:
            threads = list(self.threads.values())
        for thread in threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def shutdown(self, timeout: float = 30.0) -> None:
        """Stop every running algorithm; its job ends Failed (interrupted), as after a crash."""
        self.shutting_down = True
        self.runner.stop_all()
        self.wait(timeout)

    # -- one job ---------------------------------------------------------------------------

    def _signal(self, name: str, thread: threading.Thread) -> None:
        """SIGTERM the algorithm; if it has not started yet, retry until it has or the job ends."""
        while thread.is_alive() and not self.runner.stop(KIND, name):
            time.sleep(0.05)

    def _run(self, name: str) -> None:
        workspace = self.workspace(name)
        try:
            self._train(name, workspace)
        except _Halt:
            self._halted(name)
        except JobFailure as exc:
            self._end(name, "Failed", reason=str(exc))
        except Exception as exc:
            log.exception("training job %s failed in smlocal", name)
            reason = f"InternalServerError: smlocal could not run the training job: {exc}"
            self._end(name, "Failed", reason=reason)
        finally:
            workspace.clean()
            with self.lock:
                self.threads.pop(name.lower(), None)

    def _train(self, name: str, workspace: Workspace) -> None:
        job = self._job(name)
        script = is_script_mode(job.hyper_parameters)
        _check_algorithm(job.algorithm_specification, script)
        check_channels(job.channels)
        check_output_bucket(self.s3, job.output_data_config["S3OutputPath"])
        self._advance(name, "Downloading", started=self.ctx.now())
        workspace.prepare(job)
        download_channels(self.s3, job.channels, workspace)
        argv, env, command = self._command(job, workspace, script)
        job = self._advance(name, "Training")
        definitions = job.algorithm_specification.get("MetricDefinitions") or []
        collector = MetricCollector(definitions, built_in=not script)
        outcome = self._run_algorithm(job, workspace, collector, argv, env)
        self._publish(name, collector)
        metrics = collector.final() or None
        if self.shutting_down:
            raise _Halt
        if outcome.stopped or outcome.timed_out:
            self._keep_model(job, workspace, script)
            end = "Stopped" if outcome.stopped else "MaxRuntimeExceeded"
            self._end(name, end, metrics=metrics)
            return
        if outcome.returncode != 0 or not (script or workspace.has_model()):
            reason = (
                script_failure(outcome.returncode, command, outcome.lines)
                if script
                else _failure(workspace, outcome)
            )
            self._end(name, "Failed", metrics=metrics, reason=reason)
            return
        self._advance(name, "Uploading")
        self._keep_model(job, workspace, script)
        self._end(name, "Completed", metrics=metrics)

    def _command(
        self, job: TrainingJob, workspace: Workspace, script: bool
    ) -> tuple[list[str], dict[str, str], str]:
        """The child's argv and environment, and the command a script failure names."""
        if script:
            return launch(self.s3, job, workspace, ScriptHost.from_settings(self.ctx.settings))
        env = {
            **(job.environment or {}),
            "PYTHONPATH": _python_path(),
            SMLOCAL_IMAGE: job.algorithm_specification.get("TrainingImage") or "",
        }
        argv = python_module(ALGORITHM, str(workspace.root))
        return argv, env, " ".join(argv)

    def _run_algorithm(
        self,
        job: TrainingJob,
        workspace: Workspace,
        collector: MetricCollector,
        argv: list[str],
        env: dict[str, str],
    ) -> JobExit:
        name = job.name
        limit = job.max_runtime
        assert job.training_start_time is not None  # set on Downloading
        elapsed = self.ctx.now() - job.training_start_time
        process = JobProcess(
            kind=KIND,
            name=name,
            argv=argv,
            folder=workspace.root,
            log_group=LOG_GROUP,
            log_stream=f"{name}/algo-1-{int(time.time())}",
            env=env,
            max_runtime=max(0.01, limit - elapsed) if limit else None,
        )
        return self.runner.run(process, lambda line: collector.feed(line, self.ctx.now()))

    def _publish(self, name: str, collector: MetricCollector) -> None:
        """The job's metric values into CloudWatch (namespace /aws/sagemaker/TrainingJobs,
        dimension TrainingJobName), where the SDK's `training_job_analytics` reads them."""
        data = [
            {
                "MetricName": metric,
                "Dimensions": [{"Name": "TrainingJobName", "Value": name}],
                "Timestamp": datetime.fromtimestamp(moment, UTC),
                "Value": value,
                "Unit": "None",
            }
            for metric, value, moment in collector.points
        ]
        try:
            cloudwatch = client(self.ctx.settings, "cloudwatch")
            for start in range(0, len(data), METRICS_PER_CALL):
                cloudwatch.put_metric_data(
                    Namespace=LOG_GROUP, MetricData=data[start : start + METRICS_PER_CALL]
                )
        except Exception:  # metrics must never fail a job
            log.exception("could not send the metrics of training job %s to CloudWatch", name)

    def _keep_model(self, job: TrainingJob, workspace: Workspace, script: bool) -> None:
        """Upload model/ to ModelArtifacts.S3ModelArtifacts (the built-in algorithm's only
        when it wrote one; a script's always, as the toolkit packs /opt/ml/model as it is)."""
        if script or workspace.has_model():
            upload_model(self.s3, workspace, job.model_artifacts["S3ModelArtifacts"])

    def _halted(self, name: str) -> None:
        job = self._job(name)
        if self.shutting_down and job.secondary_status != "Stopping":
            self._end(name, "Failed", reason=INTERRUPTED.format(status=job.secondary_status))
        else:
            self._end(name, "Stopped")

    # -- records ---------------------------------------------------------------------------

    def _job(self, name: str) -> TrainingJob:
        doc = self.ctx.store.get(KIND, name)
        if doc is None:
            raise KeyError(name)
        return TrainingJob.from_document(doc)

    def _save(self, job: TrainingJob) -> None:
        self.ctx.store.put(KIND, job.key, job.to_document())

    def _advance(self, name: str, status: str, started: float | None = None) -> TrainingJob:
        """Move an InProgress job on (`started`: its TrainingStartTime); _Halt when it is being
        stopped or smlocal is stopping."""
        with self.ctx.store.transaction():
            job = self._job(name)
            if job.status != "InProgress" or self.shutting_down:
                raise _Halt
            if started is not None:
                job.training_start_time = started
            job.advance(status, self.ctx.now())
            self._save(job)
        log.info("training job %s: %s", name, status)
        return job

    def _end(
        self,
        name: str,
        status: str,
        metrics: list[MetricData] | None = None,
        reason: str | None = None,
    ) -> None:
        """Move a job to the end it reaches, with its end time, durations and results."""
        with self.ctx.store.transaction():
            job = self._job(name)
            if job.secondary_status in TERMINAL:
                return
            now = self.ctx.now()
            if metrics is not None:
                job.final_metric_data_list = metrics
            if reason is not None:
                job.failure_reason = reason
            if job.failure_reason is not None:
                job.failure_reason = job.failure_reason[:FAILURE_REASON_MAX]
            if job.training_start_time is not None:
                seconds = max(1, round(now - job.training_start_time))
                job.training_end_time = now
                job.training_time_in_seconds = job.billable_time_in_seconds = seconds
            job.advance(ending(job.secondary_status, status), now)
            self._save(job)
        log.info("training job %s ended %s", name, status)


def _check_algorithm(spec: AlgorithmSpecification, script: bool) -> None:
    """JobFailure unless the job runs SageMaker's XGBoost algorithm, or a user's script
    (hyperparameter sagemaker_program) in the XGBoost or scikit-learn image."""
    image = spec.get("TrainingImage")
    if image is None:
        raise JobFailure(
            f"ClientError: Algorithm {spec.get('AlgorithmName')} is not emulated by smlocal; it "
            f"trains only {_algorithms()} (TrainingImage of {repositories(Role.TRAINED)})."
        )
    parsed = parse_image(image)
    if script and parsed.has(Role.SCRIPTS):
        return
    if not parsed.has(Role.TRAINED):
        raise JobFailure(
            f"ClientError: Training image {image} is not emulated by smlocal: it trains only "
            f"{_algorithms()} (images of {repositories(Role.TRAINED)}) and user scripts "
            f"(hyperparameter sagemaker_program) in {repositories(Role.SCRIPTS)}. Training "
            "with other images or algorithms is not emulated."
        )


def _algorithms() -> str:
    """`SageMaker's built-in XGBoost algorithm`, from the registry's trained repositories."""
    plural = "s" if len(with_role(Role.TRAINED)) > 1 else ""
    return f"SageMaker's built-in {labels(Role.TRAINED)} algorithm{plural}"


def _failure(workspace: Workspace, outcome: JobExit) -> str:
    """The algorithm's output/failure, else what its exit status and last lines say."""
    written = workspace.failure()
    if written:
        return written
    if outcome.returncode == 0:
        return "AlgorithmError: The algorithm exited without writing a model to /opt/ml/model."
    return (
        f"AlgorithmError: The algorithm exited with status {outcome.returncode}: "
        f"{summary_lines(outcome.lines)}"
    )


def _python_path() -> str:
    """PYTHONPATH that lets the child import this very emulator package."""
    ours = str(Path(smlocal.__file__).parents[1])
    inherited = os.environ.get("PYTHONPATH")
    return f"{ours}{os.pathsep}{inherited}" if inherited else ours
