"""Reading captures back: list capture files under an S3 URI or a folder, parse their records.

Works on any capture layout, ours or real AWS's: ``.../yyyy/mm/dd/hh/*.jsonl`` below the
source, at any depth (the destination, an endpoint, a variant or an hour folder). With a time
window only the hour folders that can hold it are listed.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from smlocal.capture_sink.keys import utc
from smlocal.capture_sink.listing import CaptureFile, list_capture_files

if TYPE_CHECKING:
    import pandas as pd

HOUR = timedelta(hours=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def optional_utc(moment: datetime | None) -> datetime | None:
    """keys.utc, passing None through."""
    return None if moment is None else utc(moment)


def inference_time(record: dict[str, Any]) -> datetime | None:
    """A record's eventMetadata.inferenceTime, parsed (None when absent or unreadable)."""
    try:
        text = record["eventMetadata"]["inferenceTime"]
        return utc(datetime.fromisoformat(text))
    except (KeyError, TypeError, ValueError):
        return None


def decode_sides(record: dict[str, Any]) -> dict[str, Any]:
    """A copy whose BASE64 payloads hold their decoded text (when it is UTF-8 text).

    `encoding` still says BASE64, which tells how the payload was stored.
    """
    result = copy.deepcopy(record)
    for entry in (result.get("captureData") or {}).values():
        if isinstance(entry, dict) and entry.get("encoding") == "BASE64":
            try:
                entry["data"] = base64.b64decode(entry["data"], validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError, TypeError):
                continue  # binary payloads stay base64
    return result


class UnreadableRecord(ValueError):
    """A line of a capture file that is not a capture record: bad data, not a bad request."""


@dataclass(frozen=True)
class Located:
    """A record and where it was read: its file's URI and line (1-based)."""

    record: dict[str, Any]
    uri: str
    line: int

    def __str__(self) -> str:
        return f"{self.uri}:{self.line}"


@dataclass(frozen=True)
class _Window:
    start: datetime | None
    end: datetime | None

    def holds(self, moment: datetime | None) -> bool:
        if self.start is None and self.end is None:
            return True
        if moment is None:
            return False
        return (self.start is None or moment >= self.start) and (
            self.end is None or moment < self.end
        )


def _parse(file: CaptureFile) -> Iterator[dict[str, Any]]:
    return (found.record for found in _located(file))


def _located(file: CaptureFile) -> Iterator[Located]:
    for number, line in enumerate(file.read().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:  # not JSON, or not UTF-8
            raise UnreadableRecord(
                f"{file.uri}:{number}: not a capture record ({exc}); "
                "`smlocal captures validate` lists every problem"
            ) from None
        if not isinstance(record, dict):
            raise UnreadableRecord(f"{file.uri}:{number}: not a capture record (not a JSON object)")
        yield Located(record, file.uri, number)


def iter_records(
    source: str | Path,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    decode_base64: bool = False,
    s3_client: Any = None,
    file_order: bool = False,
) -> Iterator[dict[str, Any]]:
    """Capture records under `source` (s3://bucket/prefix, a folder or a file), in time order.

    Only records whose inferenceTime is in [start, end) are yielded (naive times are UTC).
    Files are read an hour folder at a time, so memory holds one hour of records. With
    file_order, records come file by file (files by name, which is their first record's
    time) and memory holds one file: what a monitoring job wants for any amount of data.
    With decode_base64, BASE64 payloads are decoded to text (see decode_sides).
    """
    window = _Window(optional_utc(start), optional_utc(end))
    files = list_capture_files(source, window.start, window.end, s3_client=s3_client)
    ordered = _in_file_order(files, window) if file_order else _in_time_order(files, window)
    return (decode_sides(r) for r in ordered) if decode_base64 else ordered


def iter_located(
    source: str | Path,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    s3_client: Any = None,
) -> Iterator[Located]:
    """iter_records with file_order, each record with its file and line (for messages)."""
    window = _Window(optional_utc(start), optional_utc(end))
    files = list_capture_files(source, window.start, window.end, s3_client=s3_client)
    return _located_in_file_order(files, window)


def located_in_window(
    file: CaptureFile, start: datetime | None = None, end: datetime | None = None
) -> Iterator[Located]:
    """One capture file's records whose inferenceTime is in [start, end), with their lines."""
    window = _Window(optional_utc(start), optional_utc(end))
    return (r for r in _located(file) if window.holds(inference_time(r.record)))


def _located_in_file_order(files: list[CaptureFile], window: _Window) -> Iterator[Located]:
    for file in sorted(files, key=lambda f: f.uri):
        yield from located_in_window(file, window.start, window.end)


def _in_file_order(files: list[CaptureFile], window: _Window) -> Iterator[dict[str, Any]]:
    return (found.record for found in _located_in_file_order(files, window))


def _sort_key(record: dict[str, Any]) -> datetime:
    return inference_time(record) or _EPOCH


def _in_time_order(files: list[CaptureFile], window: _Window) -> Iterator[dict[str, Any]]:
    if any(f.hour is None for f in files):  # no hour folders to go by: sort everything
        everything = [r for f in files for r in _parse(f) if window.holds(inference_time(r))]
        yield from sorted(everything, key=_sort_key)
        return
    carry: list[dict[str, Any]] = []
    hours = sorted({f.hour for f in files if f.hour is not None})
    for hour in hours:
        batch = carry + [
            r for f in files if f.hour == hour for r in _parse(f) if window.holds(inference_time(r))
        ]
        boundary = hour + HOUR
        carry = [r for r in batch if _sort_key(r) >= boundary]  # a file that ran past its hour
        yield from sorted((r for r in batch if _sort_key(r) < boundary), key=_sort_key)
    yield from sorted(carry, key=_sort_key)


def to_dataframe(records: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """A flat table: one row per record, columns like captureData.endpointInput.data."""
    import pandas as pd

    return pd.json_normalize(list(records))


def read_dataframe(
    source: str | Path,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    decode_base64: bool = True,
    s3_client: Any = None,
) -> pd.DataFrame:
    """iter_records as a flat pandas DataFrame (BASE64 payloads decoded by default)."""
    return to_dataframe(
        iter_records(source, start, end, decode_base64=decode_base64, s3_client=s3_client)
    )


def export(frame: pd.DataFrame, dest: Path, fmt: str) -> Path:
    """Write a capture table to CSV or Parquet; list cells (customAttributes) become JSON."""
    if fmt == "parquet":
        frame.to_parquet(dest, index=False)
    elif fmt == "csv":
        lists = [c for c in frame.columns if frame[c].map(lambda v: isinstance(v, list)).any()]
        out = frame.copy()
        for column in lists:
            out[column] = out[column].map(lambda v: json.dumps(v) if isinstance(v, list) else v)
        out.to_csv(dest, index=False)
    else:
        raise ValueError(f"unknown export format {fmt!r}: use csv or parquet")
    return dest
