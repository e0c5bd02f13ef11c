"""What every processing job shares: container paths in the job's folder, how a run ended,
and uploading outputs."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smlocal.emulator.jobs.processing_records import ProcessingJob, ProcessingOutput
from smlocal.emulator.support.clients import upload_folder

LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
CONTAINER_ROOT = "/opt/ml/"
MESSAGE_FILE = "/opt/ml/output/message"


class JobFailed(Exception):
    """The platform side of a job failed (inputs, image); the message is the FailureReason."""


@dataclass(frozen=True)
class Ending:
    """How a job's run ended: its final status, and its FailureReason or ExitMessage."""

    status: str
    failure_reason: str | None = None
    exit_message: str | None = None


def in_job(folder: Path, container_path: str, what: str) -> Path:
    """Where a container path of a job lives in the job's folder. A path that does not stay
    under /opt/ml (`..`, or another absolute path) fails the job: smlocal runs the job on
    this machine, where such a path would be the user's own files."""
    normalized = posixpath.normpath(container_path)
    if not normalized.startswith(CONTAINER_ROOT):
        raise JobFailed(
            f"{what} {container_path!r} is not a path under {CONTAINER_ROOT}: smlocal runs "
            "processing jobs on this machine and maps only container paths under /opt/ml "
            "into the job's own folder."
        )
    return folder / normalized.lstrip("/")


def s3_outputs(job: ProcessingJob, mode: str | None = None) -> list[ProcessingOutput]:
    """The job's S3 outputs (only those with this S3UploadMode, when one is given)."""
    outputs = (job.output_config or {}).get("Outputs", [])
    found = [output for output in outputs if "S3Output" in output]
    if mode is None:
        return found
    return [o for o in found if o["S3Output"].get("S3UploadMode", "EndOfJob") == mode]


def upload_outputs(s3: Any, job: ProcessingJob, folder: Path, mode: str | None = None) -> None:
    """Upload each S3 output's local folder (those of one S3UploadMode, when given)."""
    for output in s3_outputs(job, mode):
        target = output["S3Output"]
        local = in_job(folder, target["LocalPath"], "LocalPath")
        if local.is_dir():
            try:
                upload_folder(s3, local, target["S3Uri"])
            except Exception as exc:
                raise JobFailed(
                    f"Could not upload output {output['OutputName']} to {target['S3Uri']}: {exc}"
                ) from None
