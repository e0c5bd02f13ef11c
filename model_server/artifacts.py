"""Fetch model artifacts (a folder, a local model.tar.gz, or s3://) and unpack them safely."""

from __future__ import annotations

import contextlib
import logging
import shutil
import tarfile
import tempfile
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from smlocal.capture_sink.keys import S3Location, parse_s3_uri
from smlocal.model_server.environment import (
    DEFAULT_MAX_MODEL_BYTES,
    SMLOCAL_MAX_MODEL_BYTES,
    ServerSettings,
)
from smlocal.model_server.errors import ArtifactError
from smlocal.model_server.s3_urls import S3UrlError, to_s3_uri

log = logging.getLogger(__name__)

_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
# Left free on the destination's file system after unpacking, for logs, the capture spool
# and everything else on the machine (at most a twentieth of a small file system).
FREE_SPACE_MARGIN = 512 * 1024 * 1024
MAX_MEMBERS = 100_000  # files and folders in one model archive
MAX_HEADER_BYTES = 1 << 20  # one PAX or GNU long-name header


def is_archive(name: str) -> bool:
    """True when the name looks like a tar archive SageMaker would extract."""
    return name.endswith(_ARCHIVE_SUFFIXES)


def _refuse_absolute(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo | None:
    # tarfile's "data" filter would quietly strip the leading "/" of an absolute name;
    # an archive that asks for one was not built for SageMaker, so say so instead.
    if member.name.startswith(("/", "\\")):
        raise tarfile.AbsolutePathError(member)
    return tarfile.data_filter(member, dest)


@dataclass(frozen=True)
class _Room:
    """The most an archive may unpack to, and the end of a refusal's sentence saying why."""

    size: int
    why: str


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:.1f} {unit} ({n} bytes)"
    return f"{n} bytes"


def _room(dest: Path, max_bytes: int) -> _Room:
    """The cap, or the free space of dest's file system less a margin when that is smaller."""
    where = next(p for p in (dest, *dest.parents) if p.exists())
    usage = shutil.disk_usage(where)
    margin = min(FREE_SPACE_MARGIN, usage.total // 20)
    free = max(usage.free - margin, 0)
    if free < max_bytes:
        return _Room(
            free,
            f"the {_size(free)} free on the file system of {where} once smlocal leaves "
            f"{_size(margin)} of it free; free up space on that file system",
        )
    return _Room(
        max_bytes,
        f"the limit of {_size(max_bytes)}; if the model really is that large, raise the limit "
        f"by setting {SMLOCAL_MAX_MODEL_BYTES} to a larger number of bytes",
    )


def _counted(
    members: Iterable[tarfile.TarInfo], room: _Room, source: str
) -> Iterator[tarfile.TarInfo]:
    """members, refusing the archive once their sizes add up to more than the room."""
    total = 0
    for count, member in enumerate(members, 1):
        if count > MAX_MEMBERS:
            raise ArtifactError(
                f"refusing to extract {source}: it has more than {MAX_MEMBERS:,} files and "
                "folders; a model archive holds far fewer"
            )
        total += member.size
        if total > room.size:
            raise ArtifactError(
                f"refusing to extract {source}: it unpacks to at least {_size(total)}, more "
                f"than {room.why}"
            )
        yield member


_EXTENDED = (
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)


class _HeaderTooLarge(Exception):
    """An extended (PAX or GNU long-name) header larger than MAX_HEADER_BYTES."""


class _BoundedTarInfo(tarfile.TarInfo):
    """tarfile reads an extended header's whole body into memory to parse it: refuse one
    above MAX_HEADER_BYTES first, so a small archive cannot claim gigabytes of headers.
    (`_proc_member` is tarfile's hook for member types; stable since Python 3.2.)"""

    def _proc_member(self, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in _EXTENDED and self.size > MAX_HEADER_BYTES:
            raise _HeaderTooLarge(f"a {self.size:,}-byte extended header")
        return super()._proc_member(tarfile_)  # type: ignore[misc, no-any-return]


def _open(archive: Path, source: str) -> tarfile.TarFile:
    try:
        return tarfile.open(archive, tarinfo=_BoundedTarInfo)
    except _HeaderTooLarge as exc:
        raise ArtifactError(f"refusing to extract {source}: it has {exc}") from None
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise ArtifactError(f"cannot read {source} as a tar archive: {exc}") from None


def _check_headers(tar: tarfile.TarFile, room: _Room, source: str) -> None:
    """Add up the members' sizes from their headers, before anything is written."""
    try:
        for _member in _counted(tar, room, source):
            pass
    except _HeaderTooLarge as exc:
        raise ArtifactError(f"refusing to extract {source}: it has {exc}") from None
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise ArtifactError(f"cannot read {source} as a tar archive: {exc}") from None


def extract_archive(
    archive: Path,
    dest: Path,
    source: str | None = None,
    max_bytes: int = DEFAULT_MAX_MODEL_BYTES,
) -> None:
    """Extract a tar archive into dest (absent or empty), all or nothing.

    Builds on tarfile's "data" filter, which rejects ".." components, links pointing outside
    the destination and device files; absolute member names are refused too, so a hostile
    model.tar.gz cannot write anywhere but the model directory. An archive that would unpack
    to more than max_bytes, or than the free space of dest's file system, is refused from its
    headers before anything is written. Errors name `source` (the URI or path the user gave;
    the archive's path by default). Members are written into a new folder next to dest that
    becomes dest only once all of them are there; a refusal leaves dest as it was.
    """
    source = str(archive) if source is None else source
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ArtifactError(f"cannot extract {source} into {dest}: it is not an empty folder")
    with _open(archive, source) as tar:
        room = _room(dest, max_bytes)
        _check_headers(tar, room, source)
        made: list[Path] = []
        partial = dest.parent / f".{dest.name}.partial-{uuid.uuid4().hex[:8]}"
        try:
            _make_parents(dest.parent, made)
            partial.mkdir()  # the mode dest would have had
            _unpack(tar, partial, room, source)
            _put_in_place(partial, dest)
        except BaseException as exc:
            shutil.rmtree(partial, ignore_errors=True)
            for folder in reversed(made):
                with contextlib.suppress(OSError):
                    folder.rmdir()
            if isinstance(exc, OSError):
                raise ArtifactError(f"cannot extract {source} into {dest}: {exc}") from None
            raise


def _unpack(tar: tarfile.TarFile, folder: Path, room: _Room, source: str) -> None:
    """Extract every member, counting sizes again as they are written (belt and braces)."""
    members = _counted(tar.getmembers(), room, source)
    try:
        tar.extractall(folder, members=members, filter=_refuse_absolute)
    except tarfile.FilterError as exc:
        member = exc.tarinfo.name
        raise ArtifactError(
            f"refusing to extract {source}: member {member!r} would be written outside "
            f"the model directory ({exc}); rebuild the archive with relative paths only"
        ) from None
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise ArtifactError(f"cannot read {source} as a tar archive: {exc}") from None


def _make_parents(folder: Path, made: list[Path]) -> None:
    """Create folder and its missing parents, adding those created to made, outermost first."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue  # made by someone else meanwhile: not ours to remove
        made.append(path)


def _put_in_place(partial: Path, dest: Path) -> None:
    """Make the fully extracted folder dest: renamed, or moved into dest if it exists."""
    if not dest.exists():
        partial.rename(dest)
        return
    moved: list[Path] = []
    try:
        for entry in partial.iterdir():
            moved.append(entry.rename(dest / entry.name))
    except BaseException:
        for path in moved:  # dest was empty: all it holds now came from this archive
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        raise
    partial.rmdir()


def pack_archive(folder: Path, archive: Path) -> Path:
    """folder's files as a gzipped tar, at the archive's root as SageMaker training writes them.

    The archive must not be inside folder. Returns archive.
    """
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            tar.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
    return archive


def materialize(
    source: str | Path,
    dest: Path,
    s3_endpoint_url: str | None = None,
    max_bytes: int = DEFAULT_MAX_MODEL_BYTES,
) -> Path:
    """Make the model files of `source` available as a local folder and return it.

    A folder is used in place; an archive (local or s3://) is extracted into dest, if it
    unpacks to no more than max_bytes; an s3:// prefix that is not an archive is downloaded
    into dest as it is. S3 is reached at s3_endpoint_url, or where boto3's configuration
    (AWS_ENDPOINT_URL, ...) points.
    """
    try:
        text = to_s3_uri(str(source))  # an https S3 URL must never reach Path(): it eats "//"
    except S3UrlError as exc:
        raise ArtifactError(str(exc)) from None
    if text.startswith("s3://"):
        return _from_s3(text, dest, s3_endpoint_url, max_bytes)
    path = Path(text).expanduser()
    if path.is_dir():
        return path
    if path.is_file() and is_archive(path.name):
        extract_archive(path, dest, source=text, max_bytes=max_bytes)
        return dest
    if path.is_file():
        raise ArtifactError(f"{path} is a file but not a tar archive (.tar.gz); pass its folder")
    raise ArtifactError(f"model artifact {path} does not exist")


def model_data_location(uri: str) -> S3Location:
    """The bucket and key of an s3:// model data URI (parse_s3_uri); ArtifactError if none."""
    try:
        return parse_s3_uri(uri)
    except ValueError:
        raise ArtifactError(f"{uri!r} is not an s3://bucket/key URI") from None


def _from_s3(uri: str, dest: Path, endpoint_url: str | None, max_bytes: int) -> Path:
    import boto3  # imported here: only s3:// artifacts need it, and it is slow to import
    from botocore.exceptions import BotoCoreError, ClientError

    where = model_data_location(uri)
    bucket, key = where.bucket, where.key
    s3 = boto3.client("s3", endpoint_url=endpoint_url)
    try:
        if is_archive(key):
            with tempfile.TemporaryDirectory() as tmp:
                local = Path(tmp) / Path(key).name
                s3.download_file(bucket, key, str(local))
                extract_archive(local, dest, source=uri, max_bytes=max_bytes)
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


def prepare(settings: ServerSettings, scratch: Callable[[], Path]) -> ServerSettings:
    """Fetch and unpack the model data and the user's code once, before workers start.

    `scratch()` makes the folder to unpack into; it is called only when something must be
    unpacked. Returns settings whose model_dir and submit_directory are local folders.
    """
    changes: dict[str, object] = {}
    if settings.model_data:
        changes["model_dir"] = materialize(
            settings.model_data, scratch() / "model", max_bytes=settings.max_model_bytes
        )
        changes["model_data"] = None
    code = settings.submit_directory
    if code and code.startswith("file://"):
        code = code[len("file://") :]
    if code and (code.startswith("s3://") or is_archive(code)):
        code = str(materialize(code, scratch() / "code", max_bytes=settings.max_model_bytes))
    if code != settings.submit_directory:
        changes["submit_directory"] = code
    return replace(settings, **changes)  # type: ignore[arg-type]
