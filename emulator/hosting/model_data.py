"""Model data and user code for a variant, fetched by the emulator before its server starts.

With the embedded S3 the bytes are read straight from moto in this process (no HTTP, and
the model server never needs boto3); an external S3 or a local path goes through
`smlocal.model_server.artifacts`. Archives are unpacked with the same safety checks either way.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Protocol

from smlocal.emulator.settings import EmulatorSettings
from smlocal.model_server.artifacts import (
    extract_archive,
    is_archive,
    materialize,
    model_data_location,
)
from smlocal.model_server.environment import SAGEMAKER_SUBMIT_DIRECTORY
from smlocal.model_server.errors import ArtifactError
from smlocal.model_server.s3_urls import S3UrlError, to_s3_uri


class ModelSource(Protocol):
    """What a model is unpacked from: a variant's plan, or one container of it."""

    @property
    def model_data_url(self) -> str | None: ...

    @property
    def environment(self) -> dict[str, str]: ...


def embedded_object(account: str, uri: str) -> bytes:
    """An object's bytes from the embedded S3, or ArtifactError."""
    from moto.s3.exceptions import MissingBucket, MissingKey
    from moto.s3.models import s3_backends

    where = model_data_location(uri)
    try:
        found = s3_backends[account]["aws"].get_object(where.bucket, where.key)
    except (MissingBucket, MissingKey):
        found = None
    if found is None:
        raise ArtifactError(f"there is no object at {uri}")
    return bytes(found.value)


def fetch(settings: EmulatorSettings, uri: str, dest: Path) -> Path:
    """Unpack (or link) an artifact into dest; return the folder that holds its files.

    Archives unpacking to more than settings.max_model_bytes are refused; errors name `uri`.
    """
    try:
        uri = to_s3_uri(uri.removeprefix("file://"))
    except S3UrlError as exc:
        raise ArtifactError(str(exc)) from None
    cap = settings.max_model_bytes
    if not (uri.startswith("s3://") and settings.s3_endpoint is None):
        s3_url = settings.s3_url if uri.startswith("s3://") else None
        return materialize(uri, dest, s3_url, max_bytes=cap)
    if not is_archive(uri):
        raise ArtifactError(f"{uri} is not a .tar.gz; SageMaker expects model data as one archive")
    data = embedded_object(settings.account, uri)
    with tempfile.NamedTemporaryFile(suffix=".tar.gz") as archive:
        archive.write(data)
        archive.flush()
        extract_archive(Path(archive.name), dest, source=uri, max_bytes=cap)
    return dest


def unpack(
    settings: EmulatorSettings, plan: ModelSource, folder: Path
) -> tuple[Path, dict[str, str]]:
    """Fetch and unpack a model (and an archived SAGEMAKER_SUBMIT_DIRECTORY) into a folder:
    the model's folder and the environment that points at the unpacked code."""
    environment = dict(plan.environment)
    model_dir = folder / "model"
    if plan.model_data_url:
        model_dir = fetch(settings, plan.model_data_url, model_dir)
    else:
        model_dir.mkdir()
    code = environment.get(SAGEMAKER_SUBMIT_DIRECTORY, "")
    if code.startswith("s3://") or is_archive(code):
        code_dir = fetch(settings, code, folder / "code")
        environment[SAGEMAKER_SUBMIT_DIRECTORY] = str(code_dir)
    return model_dir, environment
