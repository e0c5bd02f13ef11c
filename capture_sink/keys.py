"""Where capture files go in S3 (pure functions).

    {DestinationS3Uri without trailing /}/{endpoint}/{variant}/yyyy/mm/dd/hh/MM-SS-mmm-uuid4.jsonl

All times are UTC; the hour folder and the file name come from the first record in the
file. The endpoint and variant names keep their case.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

_NAME = re.compile(
    r"(?P<y>\d{4})/(?P<mo>\d{2})/(?P<d>\d{2})/(?P<h>\d{2})/"
    r"(?P<mi>\d{2})-(?P<s>\d{2})-(?P<ms>\d{3})-(?P<id>[0-9a-f-]{36})\.jsonl"
)
_SPOOL_SEP = "_"


@dataclass(frozen=True)
class S3Location:
    """A bucket and a key (or key prefix) in it."""

    bucket: str
    key: str

    @property
    def uri(self) -> str:
        """s3://bucket/key."""
        return f"s3://{self.bucket}/{self.key}"


def parse_s3_uri(uri: str) -> S3Location:
    """Split s3://bucket/key; the key may be empty. ValueError when it is not one.

    The one S3 URI parser of smlocal. The key is everything after the first `/` behind the
    bucket, exactly as written: a leading `/` stays (`s3://b//k` names the object `/k`, as
    S3, the AWS CLI and the SageMaker API's own pattern `(https|s3)://([^/]+)/?(.*)` read
    it), and so do `#` and `?`, which S3 keys may hold. The SageMaker Python SDK's
    `parse_s3_url` goes through urlparse, which strips a leading `/` and cuts the key at
    `#` or `?`: both would name another object than the one the URI does.
    """
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an s3:// URI")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"{uri!r} names no bucket")
    return S3Location(bucket, key)


def capture_prefix(destination_s3_uri: str, endpoint: str, variant: str) -> S3Location:
    """The folder of one endpoint variant's captures (no trailing slash)."""
    dest = parse_s3_uri(destination_s3_uri.rstrip("/"))
    parts = [p for p in (dest.key, endpoint, variant) if p]
    return S3Location(dest.bucket, "/".join(parts))


def utc(moment: datetime) -> datetime:
    """The moment as an aware UTC datetime (a naive one is taken to be UTC already)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def hour_folder(moment: datetime) -> str:
    """yyyy/mm/dd/hh of a moment, in UTC."""
    return utc(moment).strftime("%Y/%m/%d/%H")


def hour_start(moment: datetime) -> datetime:
    """The start of the UTC hour holding `moment` (aware)."""
    return utc(moment).replace(minute=0, second=0, microsecond=0)


def object_name(first_record: datetime, file_id: uuid.UUID | None = None) -> str:
    """yyyy/mm/dd/hh/MM-SS-mmm-uuid4.jsonl for a file whose first record came at that time."""
    moment = utc(first_record)
    file_id = file_id or uuid.uuid4()
    millis = moment.microsecond // 1000
    return f"{hour_folder(moment)}/{moment:%M-%S}-{millis:03d}-{file_id}.jsonl"


def object_key(prefix: str, name: str) -> str:
    """The full key of a capture file under an endpoint variant's prefix."""
    return f"{prefix}/{name}" if prefix else name


def name_time(name: str) -> datetime | None:
    """The first-record time a capture file name encodes (to the millisecond), if it is one."""
    found = _NAME.search(name)
    if found is None:
        return None
    g = {k: int(v) for k, v in found.groupdict().items() if k != "id"}
    try:
        return datetime(g["y"], g["mo"], g["d"], g["h"], g["mi"], g["s"], g["ms"] * 1000, UTC)
    except ValueError:
        return None


def spool_name(name: str) -> str:
    """A flat local file name that encodes the object name (its folders become `_`)."""
    return name.replace("/", _SPOOL_SEP)


def name_from_spool(spool_file: str) -> str | None:
    """The object name a spool file name encodes, or None for other files."""
    candidate = spool_file.replace(_SPOOL_SEP, "/", 4)
    return candidate if _NAME.fullmatch(candidate) else None
