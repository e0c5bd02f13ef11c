"""What the console reads from S3 and CloudWatch Logs (through the emulator's own clients):
the latest capture records, decoded; a monitoring execution's JSON outputs; log tails."""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from smlocal.capture_sink.keys import capture_prefix, parse_s3_uri
from smlocal.capture_sink.s3 import error_code
from smlocal.emulator.console.sources import Sources

LATEST_FILES = 3  # capture files read for the latest records
LATEST_RECORDS = 10
LOG_LINES = 40
MAX_SHOWN = 2000  # characters of one payload shown
MAX_OBJECT = 5 * 1024 * 1024  # bytes of an S3 object shown


@dataclass(frozen=True)
class Side:
    """One side (request or response) of a capture record, decoded for reading."""

    content_type: str
    encoding: str
    text: str


@dataclass(frozen=True)
class Record:
    """One capture record: when, its ids, request and response side by side."""

    event_id: str
    inference_time: str
    inference_id: str
    request: Side | None
    response: Side | None
    key: str  # the S3 object it is in


def decode(side: dict[str, Any] | None) -> Side | None:
    """A capture record's endpointInput/endpointOutput as text (BASE64 decoded; JSON indented)."""
    if not side:
        return None
    encoding = str(side.get("encoding", ""))
    data = str(side.get("data", ""))
    if encoding == "BASE64":
        try:
            raw = base64.b64decode(data, validate=True)
            data = raw.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            data = f"{len(data) * 3 // 4} bytes of binary data"
    if encoding == "JSON" or data.lstrip().startswith(("{", "[")):
        with contextlib.suppress(ValueError):
            data = json.dumps(json.loads(data), indent=2)
    shown = data if len(data) <= MAX_SHOWN else data[:MAX_SHOWN] + " …"
    return Side(str(side.get("observedContentType", "")), encoding, shown)


def capture_files(sources: Sources, destination: str, endpoint: str) -> list[dict[str, Any]]:
    """The capture objects of an endpoint (every variant), newest first."""
    where = capture_prefix(destination, endpoint, "")
    s3 = sources.client("s3")
    found: list[dict[str, Any]] = []
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=where.bucket, Prefix=where.key.rstrip("/") + "/"
    )
    for page in pages:
        found += [{**o, "Bucket": where.bucket} for o in page.get("Contents", [])]
    return sorted(found, key=lambda o: (o["LastModified"], o["Key"]), reverse=True)


def latest_records(sources: Sources, files: list[dict[str, Any]]) -> list[Record]:
    """The newest LATEST_RECORDS records of the newest capture files."""
    s3 = sources.client("s3")
    records: list[Record] = []
    for item in files[:LATEST_FILES]:
        body = s3.get_object(Bucket=item["Bucket"], Key=item["Key"])["Body"].read()
        lines = [line for line in body.decode("utf-8", "replace").splitlines() if line.strip()]
        for line in reversed(lines):
            records.append(_record(line, item["Key"]))
            if len(records) >= LATEST_RECORDS:
                return records
    return records


def _record(line: str, key: str) -> Record:
    try:
        doc = json.loads(line)
    except ValueError:
        return Record("", "", "", Side("", "", "(not a JSON line)"), None, key)
    data = doc.get("captureData") or {}
    meta = doc.get("eventMetadata") or {}
    return Record(
        event_id=str(meta.get("eventId", "")),
        inference_time=str(meta.get("inferenceTime", "")),
        inference_id=str(meta.get("inferenceId", "")),
        request=decode(data.get("endpointInput")),
        response=decode(data.get("endpointOutput")),
        key=key,
    )


def object_url(bucket: str, key: str) -> str:
    """The console's own URL of an S3 object (the embedded S3 wants signed requests, which a
    browser's link is not): the console reads it with the emulator's client."""
    return f"/_smlocal/s3/{quote(bucket)}/{quote(key)}"


def object_text(sources: Sources, bucket: str, key: str) -> bytes:
    """An S3 object's first MAX_OBJECT bytes (ClientError when there is none)."""
    answer = sources.client("s3").get_object(
        Bucket=bucket, Key=key, Range=f"bytes=0-{MAX_OBJECT - 1}"
    )
    body: bytes = answer["Body"].read()
    if int(answer.get("ContentRange", "/0").rsplit("/", 1)[-1] or 0) > MAX_OBJECT:
        body += f"\n… (the first {MAX_OBJECT} bytes shown)\n".encode()
    return body


def json_document(sources: Sources, uri: str) -> Any | None:
    """A JSON object in S3, or None when there is none (or it is not JSON)."""
    where = parse_s3_uri(uri)
    s3 = sources.client("s3")
    try:
        body = s3.get_object(Bucket=where.bucket, Key=where.key)["Body"].read()
        return json.loads(body)
    except ValueError:
        return None
    except Exception as exc:  # told by code: console pages share the client (`error_code`)
        if error_code(exc) != "NoSuchKey":
            raise
        return None


def log_tail(sources: Sources, group: str, prefix: str) -> list[tuple[str, list[str]]]:
    """(stream name, its last LOG_LINES messages) of each log stream of a job."""
    logs = sources.client("logs")
    try:
        streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=prefix)
    except Exception as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        return []
    tails = []
    for stream in streams.get("logStreams", [])[:10]:
        name = stream["logStreamName"]
        events = logs.get_log_events(
            logGroupName=group, logStreamName=name, limit=LOG_LINES, startFromHead=False
        )
        tails.append((name, [e["message"] for e in events.get("events", [])]))
    return tails
