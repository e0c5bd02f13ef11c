"""Running processing jobs: the Model Monitor analyzer image, on the job's own folders
(user scripts in the framework images: `script_processing`).

The job's folder stands in for the container's filesystem: `/opt/ml/processing/input/x`
is `{folder}/opt/ml/processing/input/x`. Inputs are downloaded there, container paths in
the environment are rewritten to it, `smlocal.model_monitor.analyze` runs as a child process, then
outputs are uploaded and any CloudWatch metrics the analyzer wrote are published.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from smlocal.emulator.jobs import processing_records as jobs
from smlocal.emulator.jobs.environments import ScriptHost
from smlocal.emulator.jobs.job_threads import JobThreads
from smlocal.emulator.jobs.processing_io import (
    CONTAINER_ROOT,
    LOG_GROUP,
    MESSAGE_FILE,
    Ending,
    JobFailed,
    in_job,
    upload_outputs,
)
from smlocal.emulator.jobs.processing_records import CaptureWindow, ProcessingJob
from smlocal.emulator.jobs.runner import JobProcess, JobRunner, summary_lines
from smlocal.emulator.jobs.script_processing import run_script
from smlocal.emulator.jobs.transform_s3 import download_batch_captures
from smlocal.emulator.support.clients import client, download, no_objects_message
from smlocal.emulator.support.interpreter import python_module
from smlocal.emulator.support.state import State
from smlocal.model_monitor.contract import STATISTICS
from smlocal.model_server.images import Role, names, parse_image, repositories

log = logging.getLogger(__name__)
METRICS_DIR = "/opt/ml/output/metrics/cloudwatch"
OPTIONAL_INPUT = "groundtruth_input_"  # an hour without labels: the merge counts them missing
SHUT_DOWN = "The emulator stopped while the job was running; run it again."

Finished = Callable[[ProcessingJob], None]
# the input of a monitoring execution that reads a batch transform's capture manifests
BATCH_CAPTURE_INPUT = "batch_transform_input_1"
# Flush an endpoint's captures into S3: None, or why it failed (hosting's flush_quietly)
FlushCaptures = Callable[[str], "str | None"]


# the analyzer's settings that name files it reads or writes
PATH_KEYS = frozenset(
    {
        "dataset_source", "output_path", "baseline_statistics", "baseline_constraints",
        "record_preprocessor_script", "post_analytics_processor_script",
        "CLOUDWATCH_METRICS_DIRECTORY", "output_message_file",
    }
)  # fmt: skip


class Processing:
    """Starts processing jobs in threads and tells listeners when one ends."""

    def __init__(self, ctx: State, runner: JobRunner, flush: FlushCaptures) -> None:
        self.ctx = ctx
        self.runner = runner
        self.flush = flush
        self.listeners: list[Finished] = []
        self.threads = JobThreads("processing")

    def start(self, name: str) -> None:
        """Run a stored InProgress job in the background."""
        self.threads.start(self._run, name)

    def stop(self, name: str) -> None:
        """Stop a running job (its status moves to Stopped when the process ends)."""
        self.runner.stop(jobs.KIND, name)

    def abandon_unfinished(self) -> None:
        """After a restart: jobs that were running when the emulator stopped have failed."""
        for job in jobs.all_jobs(self.ctx):
            if job.status in ("InProgress", "Stopping"):
                final = "Stopped" if job.status == "Stopping" else "Failed"
                finished = jobs.set_status(self.ctx, job.name, final, failure_reason=SHUT_DOWN)
                for listener in self.listeners:
                    listener(finished)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for running jobs (tests, shutdown)."""
        self.threads.wait(timeout)

    def _run(self, name: str) -> None:
        job = jobs.get_job(self.ctx, name)
        folder = self.ctx.settings.data_dir.resolve() / "jobs" / "processing" / name
        try:
            ending = self._execute(job, folder)
        except JobFailed as exc:
            ending = Ending("Failed", failure_reason=str(exc))
        except Exception as exc:
            log.exception("processing job %s failed", name)
            ending = Ending("Failed", failure_reason=f"smlocal could not run the job: {exc}")
        status, reason = ending.status, ending.failure_reason
        stored = jobs.get_job(self.ctx, name).status
        if stored == "Stopping" and status != "Stopped":
            status = "Stopped"
        elif status == "Stopped" and stored != "Stopping":  # smlocal stopped it: it is stopping
            status, reason = "Failed", SHUT_DOWN
        finished = jobs.set_status(
            self.ctx,
            name,
            status,
            failure_reason=reason,
            exit_message=ending.exit_message,
        )
        for listener in self.listeners:
            listener(finished)

    def _execute(self, job: ProcessingJob, folder: Path) -> Ending:
        image = job.app_specification["ImageUri"]
        parsed = parse_image(image)
        if not parsed.has(Role.ANALYZER) and not parsed.has(Role.SCRIPTS):
            raise JobFailed(
                f"smlocal runs processing jobs of the {names(Role.ANALYZER)} image, and user "
                f"scripts in {repositories(Role.SCRIPTS)}; {image} is not emulated."
            )
        shutil.rmtree(folder, ignore_errors=True)
        s3 = client(self.ctx.settings, "s3")
        self._download_inputs(s3, job, folder)
        if parsed.has(Role.SCRIPTS):
            host = ScriptHost.from_settings(self.ctx.settings)
            return run_script(self.runner, s3, job, folder, host)
        environment = self._environment(job, folder)
        for key in ("dataset_source", "output_path"):  # they exist in a container, even empty
            if environment.get(key, "").startswith(str(folder)):
                Path(environment[key]).mkdir(parents=True, exist_ok=True)
        config = folder / "opt/ml/config/processingjobconfig.json"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(json.dumps({**job.public(), "Environment": environment}))
        message = folder / MESSAGE_FILE.lstrip("/")
        exit_ = self.runner.run(
            JobProcess(
                kind=jobs.KIND,
                name=job.name,
                argv=python_module(
                    "smlocal.model_monitor.analyze", str(config), "--message-file", str(message)
                ),
                folder=folder,
                log_group=LOG_GROUP,
                log_stream=f"{job.name}/algo-1-{int(time.time())}",
                max_runtime=job.max_runtime,
            )
        )
        # The analyzer names files by where they are here; say where they are in a container.
        text = message.read_text().strip().replace(str(folder), "") if message.exists() else ""
        if exit_.stopped:
            return Ending("Stopped", exit_message=text or None)
        if exit_.timed_out:
            return Ending("Failed", failure_reason="The job exceeded its MaxRuntimeInSeconds.")
        if exit_.returncode != 0:
            return Ending("Failed", failure_reason=text or summary_lines(exit_.lines))
        output = Path(environment.get("output_path", folder))
        if not (output / STATISTICS).exists():  # e.g. a user script ended the process early
            where = str(output).replace(str(folder), "")
            reason = f"The analyzer exited with code 0 but wrote no {STATISTICS} to {where}"
            return Ending("Failed", failure_reason=f"{reason}: the job has no results.")
        upload_outputs(s3, job, folder)
        self._publish_metrics(folder / METRICS_DIR.lstrip("/"))
        return Ending("Completed", exit_message=text)

    def _download_inputs(self, s3: Any, job: ProcessingJob, folder: Path) -> None:
        window = job.capture_window
        for item in job.inputs or []:
            source = item["S3Input"]
            local = in_job(folder, source["LocalPath"], "LocalPath")
            try:
                if window and item["InputName"] == "endpoint_input_1":
                    self._flush_captures(job)
                    download_captures(s3, source["S3Uri"], local, window)
                    continue  # an empty window is the analyzer's to report
                if window and item["InputName"] == BATCH_CAPTURE_INPUT:
                    download_batch_captures(s3, source["S3Uri"], local, window.moments())
                    continue
                found = download(s3, source["S3Uri"], local)
            except Exception as exc:
                raise JobFailed(
                    f"Could not download input {item['InputName']} from {source['S3Uri']}: {exc}"
                ) from None
            if not found and not item["InputName"].startswith(OPTIONAL_INPUT):
                message = no_objects_message(source["S3Uri"], self.ctx.region, job.role_arn or "")
                raise JobFailed(f"ClientError: {message}")

    def _flush_captures(self, job: ProcessingJob) -> None:
        """Get the endpoint's spooled records into S3 first: on AWS an execution starts after
        its window closed and its capture files were written."""
        endpoint = (job.environment or {}).get("sagemaker_endpoint_name")
        if endpoint and (problem := self.flush(endpoint)):
            log.warning("job %s reads the captures in S3: %s", job.name, problem)

    @staticmethod
    def _environment(job: ProcessingJob, folder: Path) -> dict[str, str]:
        """The job's environment with container paths moved into the job's folder."""
        environment = {
            "CLOUDWATCH_METRICS_DIRECTORY": METRICS_DIR,
            "output_message_file": MESSAGE_FILE,
            **(job.environment or {}),
        }
        mapped = {}
        for key, value in environment.items():
            if value.startswith(CONTAINER_ROOT) or (key in PATH_KEYS and value.startswith("/")):
                value = str(in_job(folder, value, key))  # noqa: PLW2901
            mapped[key] = value
        return mapped

    def _publish_metrics(self, folder: Path) -> None:
        path = folder / "metrics.jsonl"
        if not path.exists():
            return
        cloudwatch = client(self.ctx.settings, "cloudwatch")
        for line in path.read_text().splitlines():
            metric = json.loads(line)
            namespace = metric.pop("Namespace")
            if "Timestamp" in metric:
                metric["Timestamp"] = metric["Timestamp"].replace("Z", "+00:00")
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=[metric])


def download_captures(s3: Any, uri: str, dest: Path, window: CaptureWindow) -> None:
    """Only the capture files whose hour folders can hold records of the window."""
    from smlocal.capture_sink.listing import list_capture_files

    start, end = window.moments()
    root = uri.rstrip("/") + "/"
    for found in list_capture_files(uri, start, end, s3_client=s3):
        target = (dest / found.uri[len(root) :]).resolve()
        if not target.is_relative_to(dest.resolve()):  # a key with `..` segments
            log.warning("capture file %s is not downloaded: it would land outside %s",
                        found.uri, dest)  # fmt: skip
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(found.read())
