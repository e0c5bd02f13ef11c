"""A training job's folder, laid out like the container's `/opt/ml`, and its S3 transfers.

{data_dir}/training-jobs/{name}/
    input/config/hyperparameters.json, inputdataconfig.json, resourceconfig.json
    input/data/{channel}/...     downloaded before the algorithm starts (removed after)
    model/                       what the algorithm writes; tarred into model.tar.gz
    output/failure               the FailureReason, when the algorithm fails
    job.log                      everything the algorithm printed
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smlocal.emulator.jobs.training.records import (
    Channel,
    DataSource,
    S3DataSource,
    TrainingJob,
)
from smlocal.emulator.support.clients import download, no_objects_message, s3_location
from smlocal.model_server.artifacts import pack_archive


class JobFailure(Exception):
    """The job cannot go on; the message is its FailureReason."""


@dataclass(frozen=True)
class Workspace:
    """The folders of one training job."""

    root: Path

    @property
    def config(self) -> Path:
        """input/config."""
        return self.root / "input" / "config"

    @property
    def model(self) -> Path:
        """model/: what the algorithm saves."""
        return self.root / "model"

    def channel(self, name: str) -> Path:
        """input/data/{name}."""
        return self.root / "input" / "data" / name

    def prepare(self, job: TrainingJob) -> None:
        """Empty folders and the config files the container reads."""
        shutil.rmtree(self.root / "input", ignore_errors=True)
        shutil.rmtree(self.model, ignore_errors=True)
        shutil.rmtree(self.root / "output", ignore_errors=True)
        for folder in (self.config, self.model, self.root / "output" / "data"):
            folder.mkdir(parents=True, exist_ok=True)
        mode = job.algorithm_specification.get("TrainingInputMode", "File")
        channels = {c["ChannelName"]: channel_config(c, mode) for c in job.channels}
        files: dict[str, object] = {
            "hyperparameters.json": job.hyper_parameters or {},
            "inputdataconfig.json": channels,
            "resourceconfig.json": {
                "current_host": "algo-1",
                "hosts": ["algo-1"],
                "network_interface_name": "eth0",
            },
        }
        for name, content in files.items():
            (self.config / name).write_text(json.dumps(content))

    def failure(self) -> str | None:
        """output/failure, when the algorithm wrote one."""
        path = self.root / "output" / "failure"
        if not path.is_file():
            return None
        return path.read_text(errors="replace").strip() or None

    def has_model(self) -> bool:
        """True when model/ holds at least one file."""
        return self.model.is_dir() and any(p.is_file() for p in self.model.rglob("*"))

    def pack(self) -> Path:
        """model/ as model.tar.gz, its files at the archive's root like SageMaker's."""
        return pack_archive(self.model, self.root / "model.tar.gz")

    def clean(self) -> None:
        """Remove the downloaded data and the archive (the log and the model stay)."""
        shutil.rmtree(self.root / "input" / "data", ignore_errors=True)
        (self.root / "model.tar.gz").unlink(missing_ok=True)


def channel_config(channel: Channel, mode: str) -> dict[str, str]:
    """A channel's entry in inputdataconfig.json."""
    config = {
        "TrainingInputMode": channel.get("InputMode", mode),
        "S3DistributionType": _s3_source(channel).get("S3DataDistributionType", "FullyReplicated"),
        "RecordWrapperType": channel.get("RecordWrapperType", "None"),
    }
    if "ContentType" in channel:
        config["ContentType"] = channel["ContentType"]
    return config


def _s3_source(channel: Channel) -> S3DataSource:
    return (channel.get("DataSource") or DataSource()).get("S3DataSource") or S3DataSource()


def missing_input(s3: Any, channels: list[Channel], region: str, role: str) -> str | None:
    """SageMaker's message for the first S3 channel with no objects under its URI, if any."""
    for channel in channels:
        uri = _s3_source(channel).get("S3Uri")
        if not uri:
            continue
        where = s3_location(uri)
        try:
            listed = s3.list_objects_v2(Bucket=where.bucket, Prefix=where.key, MaxKeys=1)
            found = listed.get("KeyCount", 0)
        except s3.exceptions.ClientError:
            found = 0
        if not found:
            return no_objects_message(uri, region, role)
    return None


def check_channels(channels: list[Channel]) -> None:
    """JobFailure for a channel whose data source smlocal cannot read."""
    for channel in channels:
        source = _s3_source(channel)
        if not source:
            raise JobFailure(
                f"ClientError: Channel {channel['ChannelName']}: only S3DataSource channels are "
                "emulated by smlocal (not FileSystemDataSource or others)."
            )
        if source.get("S3DataType", "S3Prefix") != "S3Prefix":
            raise JobFailure(
                f"ClientError: Channel {channel['ChannelName']}: S3DataType "
                f"{source['S3DataType']} is not emulated by smlocal; use S3Prefix."
            )


def download_channels(s3: Any, channels: list[Channel], workspace: Workspace) -> None:
    """Every channel's objects into input/data/{channel}, as SageMaker's File mode does."""
    for channel in channels:
        uri = _s3_source(channel)["S3Uri"]
        try:
            download(s3, uri, workspace.channel(channel["ChannelName"]))
        except s3.exceptions.ClientError as exc:
            raise JobFailure(f"ClientError: Data download failed: {uri}: {exc}") from None


def check_output_bucket(s3: Any, output_path: str) -> None:
    """JobFailure when the bucket of S3OutputPath does not exist."""
    bucket = s3_location(output_path).bucket
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError:
        raise JobFailure(
            f'ClientError: The S3 bucket "{bucket}" of OutputDataConfig.S3OutputPath '
            f"({output_path}) does not exist, so the model artifacts could not be written. "
            "Create the bucket, or choose an output path in a bucket that exists."
        ) from None


def artifact_uri(output_path: str, job_name: str) -> str:
    """{S3OutputPath}/{TrainingJobName}/output/model.tar.gz."""
    return f"{output_path.rstrip('/')}/{job_name}/output/model.tar.gz"


def upload_model(s3: Any, workspace: Workspace, uri: str) -> None:
    """Tar model/ and upload it to uri."""
    archive = workspace.pack()
    where = s3_location(uri)
    try:
        s3.upload_file(str(archive), where.bucket, where.key)
    except Exception as exc:  # boto3's transfer wraps ClientError in its own errors
        raise JobFailure(
            f"ClientError: Failed to upload the model artifacts to {uri}: {exc}"
        ) from None
