"""Finding capture files under an S3 URI or a local folder, pruned to a time window.

Folders named like the ``yyyy/mm/dd/hh`` levels are read as dates; those that cannot hold
any record of the window are not listed. (An endpoint literally named like a year, e.g.
``2024``, would be read as one.)
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from smlocal.capture_sink.keys import parse_s3_uri

# A file is named after its first record; its last may come up to a roll interval later,
# so a window also looks into the hour folder before its start.
STRADDLE = timedelta(hours=1)
_WIDTHS = (4, 2, 2, 2)


@dataclass(frozen=True)
class CaptureFile:
    """One capture file found under a source."""

    uri: str
    size: int
    hour: datetime | None  # the hour folder it sits in, when it sits in one
    reader: Callable[[], bytes] = field(repr=False, compare=False)

    def read(self) -> bytes:
        """The file's content."""
        return self.reader()


class _Store(Protocol):
    def children(self, prefix: str) -> tuple[list[str], list[tuple[str, int]]]: ...

    def file(self, prefix: str, name: str, size: int, hour: datetime | None) -> CaptureFile: ...


def _pad(date: tuple[int, ...]) -> tuple[int, int, int, int]:
    y, m, d, h = (*date, *(1, 1, 0)[len(date) - 1 :])
    return y, m, d, h


def _span(date: tuple[int, ...]) -> tuple[datetime, datetime]:
    """The [start, end) a date folder (year, month, day or hour) covers."""
    year, month, day, hour = _pad(date)
    begin = datetime(year, month, day, hour, tzinfo=UTC)
    if len(date) == 1:
        return begin, begin.replace(year=year + 1)
    if len(date) == 2:
        return begin, begin + timedelta(days=calendar.monthrange(year, month)[1])
    return begin, begin + (timedelta(days=1) if len(date) == 3 else timedelta(hours=1))


def _next_date(date: tuple[int, ...], name: str) -> tuple[int, ...] | None:
    """`date` one level deeper when `name` is the next date folder (else None)."""
    if len(date) >= 4 or len(name) != _WIDTHS[len(date)] or not name.isdigit():
        return None
    candidate = (*date, int(name))
    try:
        datetime(*_pad(candidate))
    except ValueError:
        return None
    return candidate


def _date_of(parts: list[str]) -> tuple[int, ...]:
    """The date a path ends in (e.g. .../2024/01/19 -> (2024, 1, 19)), or ()."""
    date: tuple[int, ...] = ()
    for name in parts[-4:]:
        date = _next_date(date, name) or _next_date((), name) or ()
    return date


def _overlaps(date: tuple[int, ...], start: datetime | None, end: datetime | None) -> bool:
    begin, finish = _span(date)
    return (end is None or begin < end) and (start is None or finish + STRADDLE > start)


def _walk(
    store: _Store,
    prefix: str,
    date: tuple[int, ...],
    window: tuple[datetime | None, datetime | None],
    found: list[CaptureFile],
    *,
    suffix: str = ".jsonl",
) -> None:
    folders, files = store.children(prefix)
    hour = _span(date)[0] if len(date) == 4 else None
    for name, size in sorted(files):
        if name.endswith(suffix):
            found.append(store.file(prefix, name, size, hour))
    for name in sorted(folders):
        deeper = _next_date(date, name)
        if deeper is None:
            _walk(store, _join(prefix, name), (), window, found, suffix=suffix)
        elif _overlaps(deeper, *window):
            _walk(store, _join(prefix, name), deeper, window, found, suffix=suffix)


def _join(prefix: str, name: str) -> str:
    return f"{prefix}{name}/" if prefix.endswith("/") or not prefix else f"{prefix}/{name}"


class _Local:
    def __init__(self, root: Path) -> None:
        self.root = root

    def children(self, prefix: str) -> tuple[list[str], list[tuple[str, int]]]:
        folders, files = [], []
        for entry in (self.root / prefix).iterdir():
            if entry.is_dir():
                folders.append(entry.name)
            elif entry.is_file():
                files.append((entry.name, entry.stat().st_size))
        return folders, files

    def file(self, prefix: str, name: str, size: int, hour: datetime | None) -> CaptureFile:
        path = self.root / prefix / name
        return CaptureFile(str(path), size, hour, path.read_bytes)


class _S3:
    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def children(self, prefix: str) -> tuple[list[str], list[tuple[str, int]]]:
        folders, files = [], []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix, Delimiter="/"
        )
        for page in pages:
            for common in page.get("CommonPrefixes", []):
                folders.append(common["Prefix"][len(prefix) :].rstrip("/"))
            for item in page.get("Contents", []):
                if item["Key"] != prefix:
                    files.append((item["Key"][len(prefix) :], int(item["Size"])))
        return folders, files

    def file(self, prefix: str, name: str, size: int, hour: datetime | None) -> CaptureFile:
        key = prefix + name

        def read() -> bytes:
            body: bytes = self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            return body

        return CaptureFile(f"s3://{self.bucket}/{key}", size, hour, read)


def _hour_of_path(parts: list[str]) -> datetime | None:
    date = _date_of(parts)
    return _span(date)[0] if len(date) == 4 else None


def list_capture_files(
    source: str | Path,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    s3_client: Any = None,
    suffix: str = ".jsonl",
) -> list[CaptureFile]:
    """Capture files (*.jsonl) under an s3:// URI, a folder, or one file, for a window;
    `suffix` ".json" finds a batch transform's capture manifests instead."""
    text = str(source)
    if text.startswith("s3://"):
        where = parse_s3_uri(text)
        if s3_client is None:
            from smlocal.capture_sink.s3 import s3_client as make_client

            s3_client = make_client()
        store: _Store = _S3(s3_client, where.bucket)
        if where.key.endswith(".jsonl"):
            folder, _, name = where.key.rpartition("/")
            size = int(s3_client.head_object(Bucket=where.bucket, Key=where.key)["ContentLength"])
            prefix = f"{folder}/" if folder else ""
            return [store.file(prefix, name, size, _hour_of_path(folder.split("/")))]
        prefix = where.key.rstrip("/") + "/" if where.key.strip("/") else ""
    else:
        path = Path(text).expanduser()
        if path.is_file():
            parts = list(path.resolve().parent.parts)
            return [
                CaptureFile(str(path), path.stat().st_size, _hour_of_path(parts), path.read_bytes)
            ]
        if not path.is_dir():
            raise FileNotFoundError(f"no capture file or folder at {path}")
        store, prefix = _Local(path), ""
        parts = list(path.resolve().parts)
    if text.startswith("s3://"):
        parts = prefix.rstrip("/").split("/") if prefix else []
    found: list[CaptureFile] = []
    _walk(store, prefix, _date_of(parts), (start, end), found, suffix=suffix)
    return found
