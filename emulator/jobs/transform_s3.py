"""A transform job's S3 side: the input objects, the `.out` objects, and the capture files.

Inputs are an `S3Prefix` (every object under it) or a `ManifestFile` (a JSON list whose
first item is `{"prefix": ...}` and the rest keys relative to it). Each input's output is
`{S3OutputPath}/{its name relative to the prefix}.out`. With a DataCaptureConfig the job
writes what SageMaker writes for batch transform: not copies of the data but manifests of
it, `{DestinationS3Uri}/input/yyyy/mm/dd/hh/{uuid}.json` naming the input objects and
`{DestinationS3Uri}/output/yyyy/mm/dd/hh/{uuid}.json` naming the `.out` objects, each a list
`[{"prefix": ...}, relative, ...]` where the prefix followed by an item is an object's URI.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from smlocal.capture_sink.keys import hour_folder, parse_s3_uri
from smlocal.capture_sink.listing import list_capture_files
from smlocal.capture_sink.record import new_event_id
from smlocal.emulator.jobs.transform_records import BatchDataCaptureConfig, TransformJob


class InputError(Exception):
    """The job's input cannot be read; the message is its FailureReason."""


@dataclass(frozen=True)
class InputObject:
    """One input object: where it is, and its name relative to the input's prefix."""

    bucket: str
    key: str
    relative: str  # the prefix followed by this is the object's URI


@dataclass(frozen=True)
class Inputs:
    """The objects a job reads, and the prefix they are named relative to."""

    prefix: str
    objects: list[InputObject]


def list_inputs(s3: Any, job: TransformJob) -> Inputs:
    """The job's input objects, in key order (a manifest's in its order)."""
    source = job.transform_input["DataSource"]["S3DataSource"]
    uri = source["S3Uri"]
    if source["S3DataType"] == "ManifestFile":
        return _manifest_inputs(s3, uri)
    where = parse_s3_uri(uri)
    objects = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=where.bucket, Prefix=where.key):
        for item in page.get("Contents", []):
            if not item["Key"].endswith("/"):
                key = item["Key"]
                objects.append(InputObject(where.bucket, key, key[len(where.key) :]))
    return Inputs(uri, objects)


def _manifest_inputs(s3: Any, uri: str) -> Inputs:
    where = parse_s3_uri(uri)
    try:
        body = s3.get_object(Bucket=where.bucket, Key=where.key)["Body"].read()
        manifest = json.loads(body)
        prefix = manifest[0]["prefix"]
        relatives = [str(item) for item in manifest[1:]]
        base = parse_s3_uri(str(prefix))
    except (ValueError, LookupError, TypeError, AttributeError) as exc:
        raise InputError(
            f"ClientError: The manifest file {uri} is not a JSON list that starts with "
            f'{{"prefix": "s3://..."}}: {exc}'
        ) from None
    objects = [InputObject(base.bucket, base.key + rel, rel) for rel in relatives]
    return Inputs(prefix, objects)


def read_input(s3: Any, item: InputObject, compression: str | None) -> bytes:
    """An input object's bytes, gunzipped for CompressionType Gzip."""
    data: bytes = s3.get_object(Bucket=item.bucket, Key=item.key)["Body"].read()
    if compression == "Gzip":
        try:
            return gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise InputError(
                f"ClientError: s3://{item.bucket}/{item.key} is not gzip: {exc}"
            ) from None
    return data


def output_name(item: InputObject) -> str:
    """The output's name under S3OutputPath: the input's relative name (its file name when
    the input URI named the object itself) and `.out`."""
    relative = item.relative.lstrip("/") or item.key.rsplit("/", 1)[-1]
    return f"{relative}.out"


def output_prefix(job: TransformJob) -> str:
    """S3OutputPath with one trailing slash."""
    return job.transform_output["S3OutputPath"].rstrip("/") + "/"


def write_output(s3: Any, job: TransformJob, name: str, data: bytes) -> None:
    """Upload one `.out` object (SSE-KMS with the output's KmsKeyId, if set)."""
    where = parse_s3_uri(output_prefix(job) + name)
    kms = job.transform_output.get("KmsKeyId")
    extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms} if kms else {}
    s3.put_object(Bucket=where.bucket, Key=where.key, Body=data, **extra)


def write_captures(
    s3: Any, config: BatchDataCaptureConfig, job: TransformJob, inputs: Inputs, outputs: list[str]
) -> list[str]:
    """The job's two capture manifests, in the hour folder of its start; their URIs."""
    started = datetime.fromtimestamp(job.start_time or job.creation_time, UTC)
    folder = hour_folder(started)
    manifests = {
        "input": [{"prefix": inputs.prefix}, *(item.relative for item in inputs.objects)],
        "output": [{"prefix": output_prefix(job)}, *outputs],
    }
    dest = parse_s3_uri(config["DestinationS3Uri"].rstrip("/"))
    kms = config.get("KmsKeyId")
    extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms} if kms else {}
    written = []
    for side, manifest in manifests.items():
        key = "/".join(p for p in (dest.key, side, folder, f"{new_event_id()}.json") if p)
        body = json.dumps(manifest).encode()
        s3.put_object(Bucket=dest.bucket, Key=key, Body=body, **extra)
        written.append(f"s3://{dest.bucket}/{key}")
    return written


def download_batch_captures(
    s3: Any, uri: str, dest: Path, window: tuple[datetime, datetime]
) -> list[Path]:
    """The objects the capture manifests under `uri` (a job's `{destination}/input`) name,
    for the manifests whose hour folders overlap the window, each manifest's in its own
    numbered folder (two jobs may read files of the same name); their paths."""
    files = []
    manifests = list_capture_files(uri, *window, s3_client=s3, suffix=".json")
    for number, found in enumerate(manifests):
        head, *items = json.loads(found.read())
        for item in items:
            where = parse_s3_uri(str(head["prefix"]) + str(item))
            name = where.key.rsplit("/", 1)[-1]
            if name in (".", ".."):  # no file can have that name here
                continue
            target = dest / str(number) / (name or "data")
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(where.bucket, where.key, str(target))
            files.append(target)
    return files
