"""CSV and JSON datasets in S3: listing a prefix, and reading an object's byte ranges.

`files` reads a dataset file through `open_binary` and `size_of`, so an `s3://` object is
cut into the same line-aligned partitions as a local file and read range by range (one
ranged GET each), in whichever process analyses the range, with that process's AWS settings
(`AWS_ENDPOINT_URL` for the embedded S3).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, BinaryIO

from smlocal.capture_sink.keys import parse_s3_uri
from smlocal.model_monitor.errors import AnalysisError

Source = Path | str  # a local path, or an s3:// URI


def is_s3(path: Source) -> bool:
    """Whether `path` is an s3:// URI."""
    return isinstance(path, str) and path.startswith("s3://")


def _client() -> Any:
    """A client with this process's AWS settings now (not cached: tests and users change
    AWS_ENDPOINT_URL between jobs)."""
    from smlocal.capture_sink.s3 import s3_client

    return s3_client()


_sizes: dict[str, int] = {}


def list_objects(uri: str) -> list[str]:
    """The objects under an s3:// prefix, sorted, hidden ones left out; or the one object."""
    where = parse_s3_uri(uri)
    folder = where.key if not where.key or where.key.endswith("/") else where.key + "/"
    found: list[str] = []
    pages = _client().get_paginator("list_objects_v2").paginate(Bucket=where.bucket, Prefix=folder)
    for page in pages:
        for item in page.get("Contents", []):
            key = item["Key"]
            if key.endswith("/") or any(p.startswith(".") for p in key[len(folder) :].split("/")):
                continue
            name = f"s3://{where.bucket}/{key}"
            _sizes[name] = int(item["Size"])
            found.append(name)
    if not found and where.key and not where.key.endswith("/"):
        try:
            size_of(uri)
        except Exception:  # botocore's 404 (ClientError) or no answer: the same sentence
            pass
        else:
            return [uri]
    if not found:
        raise AnalysisError(f"Dataset source {uri} does not exist")
    return sorted(found)


def size_of(path: Source) -> int:
    """A file's or object's size in bytes."""
    if not is_s3(path):
        return Path(path).stat().st_size
    text = str(path)
    if text not in _sizes:
        where = parse_s3_uri(text)
        head = _client().head_object(Bucket=where.bucket, Key=where.key)
        _sizes[text] = int(head["ContentLength"])
    return _sizes[text]


class _Object(io.RawIOBase):
    """An S3 object as a seekable binary file: every read is a ranged GET."""

    def __init__(self, uri: str) -> None:
        super().__init__()
        where = parse_s3_uri(uri)
        self._bucket, self._key = where.bucket, where.key
        self._size = size_of(uri)
        self._position = 0
        self._s3 = _client()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        end = min(self._size, self._position + len(buffer))
        if end <= self._position:
            return 0
        answer = self._s3.get_object(
            Bucket=self._bucket, Key=self._key, Range=f"bytes={self._position}-{end - 1}"
        )
        data = answer["Body"].read()
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)


def open_binary(path: Source) -> BinaryIO:
    """A local file or an S3 object, opened for reading bytes."""
    if is_s3(path):
        return io.BufferedReader(_Object(str(path)), buffer_size=1 << 16)
    return open(path, "rb")
