"""Fetch model artifacts (a folder, a local model.tar.gz, or s3://) and unpack them safely."""

from __future__ import annotations

import logging
import tarfile
import tempfile
from dataclasses import replace
from pathlib import Path

from capture_sink.keys import parse_s3_uri
from model_server.environment import ServerSettings
from model_server.errors import ArtifactError

log = logging.getLogger(__name__)

_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")


def is_archive(name: str) -> bool:
    """True when the name looks like a tar archive SageMaker would extract."""
    return name.endswith(_ARCHIVE_SUFFIXES)


def _refuse_absolute(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    # tarfile's "data" filter would quietly strip the leading "/" of an absolute name;
    # an archive that asks for one was not built for SageMaker, so say so instead.
    if member.name.startswith(("/", "\\")):
        raise tarfile.AbsolutePathError(member)
    return tarfile.data_filter(member, dest)


def extract_archive(archive: Path, dest: Path) -> None:
    """Extract a tar archive into dest, refusing members that would land outside it.

    Builds on tarfile's "data" filter, which rejects ".." components, links pointing outside
    the destination and device files; absolute member names are refused too, so a hostile
    model.tar.gz cannot write anywhere but the model directory.
    """
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter=_refuse_absolute)
    except tarfile.FilterError as exc:
        member = exc.tarinfo.name
        raise ArtifactError(
            f"refusing to extract {archive.name}: member {member!r} would be written outside "
            f"the model directory ({exc}); rebuild the archive with relative paths only"
        ) from None
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArtifactError(f"cannot read {archive.name} as a tar archive: {exc}") from None


def pack_archive(folder: Path, archive: Path) -> Path:
    """folder's files as a gzipped tar, at the archive's root as SageMaker training writes them.

    The archive must not be inside folder. Returns archive.
    """
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
    return archive


def materialize(source: str | Path, dest: Path, s3_endpoint_url: str | None = None) -> Path:
    """Make the model files of `source` available as a local folder and return it.

    A folder is used in place; an archive (local or s3://) is extracted into dest; an
    s3:// prefix that is not an archive is downloaded into dest as it is. S3 is reached at
    s3_endpoint_url, or where boto3's configuration (AWS_ENDPOINT_URL, ...) points.
    """
    text = str(source)
    if text.startswith("s3://"):
        return _from_s3(text, dest, s3_endpoint_url)
    path = Path(text).expanduser()
    if path.is_dir():
        return path
    if path.is_file() and is_archive(path.name):
        extract_archive(path, dest)
        return dest
    if path.is_file():
        raise ArtifactError(f"{path} is a file but not a tar archive (.tar.gz); pass its folder")
    raise ArtifactError(f"model artifact {path} does not exist")


def split_s3_uri(uri: str) -> tuple[str, str]:
    """Split s3://bucket/key into (bucket, key); ArtifactError when it is not one.

    The key is everything after the bucket, `#` and `?` included: S3 keys may hold both.
    """
    try:
        where = parse_s3_uri(uri)
    except ValueError:
        raise ArtifactError(f"{uri!r} is not an s3://bucket/key URI") from None
    return where.bucket, where.key.lstrip("/")


def _from_s3(uri: str, dest: Path, endpoint_url: str | None) -> Path:
    import boto3  # imported here: only s3:// artifacts need it, and it is slow to import
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = split_s3_uri(uri)
    s3 = boto3.client("s3", endpoint_url=endpoint_url)
    try:
        if is_archive(key):
            with tempfile.TemporaryDirectory() as tmp:
                local = Path(tmp) / Path(key).name
                s3.download_file(bucket, key, str(local))
                extract_archive(local, dest)
            return dest
        _download_prefix(s3, bucket, key, dest)
    except (ClientError, BotoCoreError) as exc:
        raise ArtifactError(f"cannot download {uri}: {exc}") from None
    return dest


def _download_prefix(s3: object, bucket: str, prefix: str, dest: Path) -> None:
    paginator = s3.get_paginator("list_objects_v2")  # type: ignore[attr-defined]
    found = False
    root = prefix.rstrip("/") + "/" if prefix else ""
    for page in paginator.paginate(Bucket=bucket, Prefix=root):
        for obj in page.get("Contents", []):
            rel = obj["Key"][len(root) :]
            target = (dest / rel).resolve()
            if not rel or rel.endswith("/") or not target.is_relative_to(dest.resolve()):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, obj["Key"], str(target))  # type: ignore[attr-defined]
            found = True
    if not found:
        raise ArtifactError(f"no objects under s3://{bucket}/{root}")


def prepare(settings: ServerSettings, scratch: Path) -> ServerSettings:
    """Fetch and unpack the model data and the user's code once, before workers start.

    Returns settings whose model_dir and submit_directory are local folders.
    """
    changes: dict[str, object] = {}
    if settings.model_data:
        changes["model_dir"] = materialize(settings.model_data, scratch / "model")
        changes["model_data"] = None
    code = settings.submit_directory
    if code and code.startswith("file://"):
        code = code[len("file://") :]
    if code and (code.startswith("s3://") or is_archive(code)):
        code = str(materialize(code, scratch / "code"))
    if code != settings.submit_directory:
        changes["submit_directory"] = code
    return replace(settings, **changes)  # type: ignore[arg-type]
