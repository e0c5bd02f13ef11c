"""The capture record: one SageMaker Data Capture JSON line per invocation (pure functions).

The shape, key order, encodings and time format are those of the lines SageMaker writes
(see shared/design/capture-format.md); nothing here touches the network or the disk.
"""

from __future__ import annotations

import base64
import functools
import json
import json.encoder
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from smlocal.capture_sink.config import CaptureConfig
from smlocal.capture_sink.keys import utc

Encoding = Literal["CSV", "JSON", "BASE64"]

EVENT_VERSION = "0"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class Payload:
    """One side of an invocation as it went over the wire."""

    content_type: str | None  # the header exactly as sent, parameters and case kept
    body: bytes


@functools.lru_cache(maxsize=256)
def media_type(content_type: str | None) -> str | None:
    """`type/subtype` of a Content-Type, lower case, without parameters; None if there is none.

    The one reading of a media type in smlocal: the capture record picks its encoding with
    it and the model server its decoder, so both agree on what a header names. Only HTTP's
    own whitespace (spaces, tabs) is trimmed. Cached: clients send the same few headers.
    """
    if not content_type:
        return None
    return content_type.partition(";")[0].strip(" \t").lower() or None


@functools.cache
def _type_sets(config: CaptureConfig) -> tuple[frozenset[str], frozenset[str]]:
    csv = frozenset(t.lower() for t in config.csv_content_types or ())
    js = frozenset(t.lower() for t in config.json_content_types or ())
    return csv, js


def choose_encoding(content_type: str | None, config: CaptureConfig) -> Encoding:
    """CSV or JSON when the media type is in the configured lists, else BASE64."""
    media = media_type(content_type)
    csv, js = _type_sets(config)
    if media in csv:
        return "CSV"
    if media in js:
        return "JSON"
    return "BASE64"


def encode_payload(payload: Payload, config: CaptureConfig) -> tuple[str, Encoding]:
    """The `data` text and `encoding` of a payload: exact text for CSV/JSON, else base64."""
    return encode_body(payload.body, choose_encoding(payload.content_type, config))


def encode_body(body: bytes, encoding: Encoding) -> tuple[str, Encoding]:
    """The `data` text of a body meant to be stored with `encoding`, and the encoding used.

    A CSV or JSON body that is not valid UTF-8 cannot be stored as text without changing
    it, so it is stored as BASE64 instead.
    """
    if encoding != "BASE64":
        try:
            return body.decode("utf-8"), encoding
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), "BASE64"


def format_inference_time(moment: datetime) -> str:
    """UTC, whole seconds, `Z`: 2022-04-18T00:21:48Z (a naive moment is taken as UTC)."""
    return utc(moment).strftime(TIME_FORMAT)


def _side(payload: Payload, mode: str, config: CaptureConfig) -> dict[str, Any]:
    data, encoding = encode_payload(payload, config)
    return {
        "observedContentType": payload.content_type,
        "mode": mode,
        "data": data,
        "encoding": encoding,
    }


def build_record(
    config: CaptureConfig,
    *,
    arrival: datetime,
    event_id: str,
    request: Payload | None,
    response: Payload | None,
    inference_id: str | None = None,
    custom_attributes: str | None = None,
    target_model: str | None = None,
) -> dict[str, Any]:
    """The record of one invocation, keys in SageMaker's order.

    `request`/`response` are included when the capture options ask for them; `arrival` is
    when the request arrived (an aware datetime, or naive UTC). `target_model`, a multi-model
    endpoint's TargetModel, is kept as `eventMetadata.targetModel` (smlocal's choice: see
    docs/fidelity.md).
    """
    capture: dict[str, Any] = {}
    if config.capture_input and request is not None:
        capture["endpointInput"] = _side(request, "INPUT", config)
    if config.capture_output and response is not None:
        capture["endpointOutput"] = _side(response, "OUTPUT", config)
    metadata: dict[str, Any] = {"eventId": event_id}
    if inference_id is not None:
        metadata["inferenceId"] = inference_id
    if custom_attributes is not None:
        metadata["customAttributes"] = [custom_attributes]
    if target_model is not None:
        metadata["targetModel"] = target_model
    metadata["inferenceTime"] = format_inference_time(arrival)
    return {"captureData": capture, "eventMetadata": metadata, "eventVersion": EVENT_VERSION}


def serialize(record: dict[str, Any]) -> bytes:
    """One line of a capture file: compact JSON, UTF-8, ending with a newline."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


_ID_BATCH = 256
_ids = threading.local()  # each thread's iterator over its batch of ready ids


def _id_batch() -> Iterator[str]:
    raw = os.urandom(16 * _ID_BATCH).hex()
    return iter(
        [
            f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"
            for h in (raw[i : i + 32] for i in range(0, len(raw), 32))
        ]
    )  # "89ab"[...]: the RFC 4122 variant, 10xx


def new_event_id() -> str:
    """A random (version 4) UUID in its lowercase hyphenated form, cheaper than uuid.uuid4().

    The OS's randomness is read 256 ids at a time, per thread: one `os.urandom` call per id
    was 4.7 % of a busy worker's samples, a syscall each id that the worker's threads queued
    on (8 threads: 4 to 5 µs per id, 1.1 µs batched). A forked child drops the batch it
    inherited, so no two processes hand out the same ids."""
    batch: Iterator[str] | None = getattr(_ids, "batch", None)
    if batch is not None:
        ready = next(batch, None)
        if ready is not None:
            return ready
    _ids.batch = batch = _id_batch()
    return next(batch)


def _forget_batch() -> None:
    _ids.__dict__.clear()  # the forking thread's batch: the only thread of the child


os.register_at_fork(after_in_child=_forget_batch)


_quote = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) quotes with


class LineBuilder:
    """Capture lines for one configuration, fast: serialize(build_record(...)) byte for byte.

    It writes the JSON text directly instead of building and encoding a dict, and formats
    each second's inferenceTime once; the tests hold it to the dict-based builder.
    """

    def __init__(self, config: CaptureConfig) -> None:
        self.config = config
        self._time: tuple[int | None, str] = (None, "")
        self._encodings: dict[str | None, Encoding] = {}

    def encoding(self, content_type: str | None) -> Encoding:
        """As choose_encoding, remembered per Content-Type (few distinct ones are seen)."""
        found = self._encodings.get(content_type)
        if found is None:
            found = choose_encoding(content_type, self.config)
            if len(self._encodings) < 1024:
                self._encodings[content_type] = found
        return found

    def _side(self, payload: Payload, mode: str) -> str:
        data, encoding = encode_body(payload.body, self.encoding(payload.content_type))
        seen = "null" if payload.content_type is None else _quote(payload.content_type)
        return (
            f'{{"observedContentType":{seen},"mode":"{mode}",'
            f'"data":{_quote(data)},"encoding":"{encoding}"}}'
        )

    def _inference_time(self, arrival: datetime) -> str:
        if arrival.tzinfo is None:
            arrival = arrival.replace(tzinfo=UTC)
        second = int(arrival.timestamp() // 1)
        cached = self._time
        if cached[0] != second:
            cached = self._time = (second, format_inference_time(arrival))
        return cached[1]

    def line(
        self,
        *,
        arrival: datetime,
        event_id: str,
        request: Payload | None,
        response: Payload | None,
        inference_id: str | None = None,
        custom_attributes: str | None = None,
        target_model: str | None = None,
    ) -> bytes:
        """The line of one invocation (the arguments of build_record, bar the config)."""
        sides = []
        if self.config.capture_input and request is not None:
            sides.append('"endpointInput":' + self._side(request, "INPUT"))
        if self.config.capture_output and response is not None:
            sides.append('"endpointOutput":' + self._side(response, "OUTPUT"))
        meta = f'"eventId":{_quote(event_id)}'
        if inference_id is not None:
            meta += f',"inferenceId":{_quote(inference_id)}'
        if custom_attributes is not None:
            meta += f',"customAttributes":[{_quote(custom_attributes)}]'
        if target_model is not None:
            meta += f',"targetModel":{_quote(target_model)}'
        meta += f',"inferenceTime":"{self._inference_time(arrival)}"'
        text = (
            f'{{"captureData":{{{",".join(sides)}}},"eventMetadata":{{{meta}}},'
            f'"eventVersion":"{EVENT_VERSION}"}}\n'
        )
        return text.encode("utf-8")
