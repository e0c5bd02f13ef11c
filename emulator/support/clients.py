"""boto3 clients the emulator uses on itself: S3 (embedded or external), Logs, CloudWatch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smlocal.capture_sink.keys import S3Location, parse_s3_uri
from smlocal.emulator.settings import EmulatorSettings
from smlocal.model_server.s3_urls import to_s3_uri

# Dummy credentials for the embedded services; an external S3 uses the environment's.
_TEST_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}


def client(settings: EmulatorSettings, service: str) -> Any:
    """A client for a service at the edge (S3 at the external endpoint when one is set)."""
    import boto3

    external_s3 = service == "s3" and settings.s3_endpoint is not None
    return boto3.client(
        service,
        endpoint_url=settings.s3_url if service == "s3" else settings.edge_url,
        region_name=settings.region,
        **({} if external_s3 else _TEST_CREDENTIALS),
    )


def aws_environment(settings: EmulatorSettings) -> dict[str, str]:
    """The variables that point a job's own AWS clients at this emulator (S3 at the external
    endpoint when one is set, with the credentials of the emulator's environment)."""
    env = {
        "AWS_ENDPOINT_URL": settings.edge_url,
        "AWS_ENDPOINT_URL_S3": settings.s3_url,
        "AWS_DEFAULT_REGION": settings.region,
        "AWS_REGION": settings.region,
    }
    if settings.s3_endpoint is None:
        env.update({key.upper(): value for key, value in _TEST_CREDENTIALS.items()})
    return env


def s3_location(uri: str) -> S3Location:
    """The bucket and key of an S3 URI in a form SageMaker takes (s3:// or an https S3 URL),
    read by parse_s3_uri; ValueError when it is not one."""
    return parse_s3_uri(to_s3_uri(uri))


def no_objects_message(uri: str, region: str, role: str) -> str:
    """SageMaker's words for an input S3 URI with no objects under it (training, processing)."""
    bucket = s3_location(uri).bucket
    return (
        f'No S3 objects found under S3 URL "{uri}" given in input data source. Please ensure '
        f"that the bucket exists in the selected region ({region}), that objects exist under "
        f'that S3 prefix, and that the role "{role}" has "s3:ListBucket" permissions on bucket '
        f'"{bucket}".'
    )


def download(s3: Any, uri: str, dest: Path) -> list[Path]:
    """Download an object, or every object under a prefix, into dest; return the files."""
    where = s3_location(uri)
    bucket, key = where.bucket, where.key
    dest.mkdir(parents=True, exist_ok=True)
    files = []
    paginator = s3.get_paginator("list_objects_v2")
    prefix = key
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            name = obj["Key"]
            if name.endswith("/"):
                continue
            relative = Path(name).name if name == key else name[len(prefix) :].lstrip("/")
            target = (dest / relative).resolve()
            if not target.is_relative_to(dest.resolve()):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, name, str(target))
            files.append(target)
    return files


def upload_folder(s3: Any, folder: Path, uri: str) -> list[str]:
    """Upload every file under folder to the prefix uri; return the object URIs."""
    where = s3_location(uri.rstrip("/"))
    bucket, prefix = where.bucket, where.key
    uploaded = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = "/".join(part for part in (prefix, path.relative_to(folder).as_posix()) if part)
        s3.upload_file(str(path), bucket, key)
        uploaded.append(f"s3://{bucket}/{key}")
    return uploaded
