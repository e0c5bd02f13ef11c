"""Rows from SageMaker Data Capture records, and JSON values as the analyzer sees them.

A row is a list of string values (None = missing). For a capture record the row holds the
output's fields first, then the input's, as the baseline dataset has its label first; the
monitoring run names them after the baseline's features by position.

* CSV (`encoding: CSV`): the payload is split into lines (a trailing newline is dropped) and
  each line on commas; an empty field is missing, as in Spark's CSV reader. A payload of k
  lines gives k rows, output line i joined with input line i. A single output line holding
  exactly k comma-separated values for k input lines (XGBoost's answer to a batch) is paired
  value by value. Any other line-count mismatch fails the job, naming the event.
* JSON (`encoding: JSON`): the payload must be one flat object (its keys sorted, values in
  that order), a flat array (values in order) or a single scalar; anything nested needs a
  record preprocessor.
* BASE64, or input and output in different encodings, fail the job (the latter with the
  real analyzer's text).
Records of shadow variants (`invocationSource: ShadowExperiment`) are skipped.

A record's fields must have their JSON types (a string `data`, an object `captureData`, ...),
and a row may have at most `max_columns` values: both are checked on the raw text, before
anything is split or parsed per column, and fail the job naming the record's file and line.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from smlocal.capture_sink.aws_shapes.java_text import java_double
from smlocal.model_monitor.errors import (
    MAX_COLUMNS,
    AnalysisError,
    encoding_mismatch,
    too_many_columns,
)

if TYPE_CHECKING:
    from smlocal.capture_sink.reader import Located

INPUT, OUTPUT = "endpointInput", "endpointOutput"
DEFAULT_INDEX_NAMES = (INPUT, OUTPUT)
SHADOW = "ShadowExperiment"
Row = list[str | None]
Capture: TypeAlias = "Mapping[str, Any] | Located"  # a record, or one with its file and line

# Fields the analyzer or a preprocessor reads, by JSON type (null counts as absent).
SIDE_STRINGS = ("observedContentType", "mode", "data", "encoding")
METADATA_STRINGS = ("eventId", "inferenceId", "inferenceTime", "invocationSource")
_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
_BLANK = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


def json_text(value: Any, where: str) -> str | None:
    """A JSON scalar as the string the analyzer classifies (numbers as Java prints them)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return value
    # Unverified: no real failure text for nested JSON is public; smlocal's wording.
    raise AnalysisError(
        f"{where} is not flat: {json.dumps(value)[:80]} is nested. The analyzer reads flat "
        "JSON only; flatten it with a record preprocessor script."
    )


def json_row(payload: Any, where: str) -> Row:
    """A flat JSON object (values by sorted key), array (in order) or scalar as a row."""
    if isinstance(payload, Mapping):
        return [json_text(payload[k], where) for k in sorted(payload)]
    if isinstance(payload, list):
        return [json_text(v, where) for v in payload]
    return [json_text(payload, where)]


def _skip(text: str, position: int) -> int:
    """The first position at or after `position` that is not JSON whitespace."""
    blank = _BLANK.match(text, position)
    return blank.end() if blank else position


def _after_value(text: str, position: int) -> int:
    """Where the JSON value at `position` ends, whitespace after it skipped."""
    return _skip(text, _DECODER.raw_decode(text, position)[1])


def _wider_than(text: str, limit: int) -> bool:
    """Whether `text` is a JSON object or array of more than `limit` members; reads at most
    limit + 1 of them, one at a time (False when unsure: json.loads then has its say)."""
    try:
        position = _skip(text, 0)
        opening = text[position]
        if opening not in "[{":
            return False
        closing = "]" if opening == "[" else "}"
        position, members = _skip(text, position + 1), 0
        while text[position] != closing:
            if opening == "{":  # the key and its colon
                position = _after_value(text, position)
                if text[position] != ":":
                    return False
                position = _skip(text, position + 1)
            position, members = _after_value(text, position), members + 1
            if members > limit:
                return True
            if text[position] == ",":
                position = _skip(text, position + 1)
            elif text[position] != closing:
                return False
    except (ValueError, IndexError):
        return False
    return False


def json_wider_than(text: str, limit: int) -> bool:
    """Whether `text` is a JSON object or array of more than `limit` members, found without
    building it (so before `json.loads`; n members need n - 1 commas)."""
    return text.count(",") >= limit and _wider_than(text, limit)


def _json_document(text: str, where: str, limit: int) -> Any:
    if json_wider_than(text, limit):
        raise AnalysisError(too_many_columns(where, None, limit))
    return json.loads(text)


def _json_fields(text: str, where: str, limit: int) -> list[Row]:
    try:
        return [json_row(_json_document(text, where, limit), where)]
    except ValueError as exc:
        error = exc
    try:  # JSON Lines: one document per line
        return [
            json_row(_json_document(line, where, limit), where)
            for line in text.splitlines()
            if line.strip()
        ]
    except ValueError:
        raise AnalysisError(f"{where} is not valid JSON: {error}") from None


def csv_fields(line: str) -> Row:
    """A CSV line split on commas, empty fields missing."""
    fields: Row = list(line.split(","))
    if "" in fields:
        return [field or None for field in fields]
    return fields


def _csv_width(line: str) -> int:
    """The values a captured CSV line holds (0 for none): split on every comma, no quoting."""
    return line.count(",") + 1 if line else 0


def _csv_lines(text: str, where: str, limit: int) -> list[Row]:
    lines = [text] if "\n" not in text and "\r" not in text else text.splitlines()
    for line in lines:
        if (width := _csv_width(line)) > limit:  # before the line is split
            raise AnalysisError(too_many_columns(where, width, limit))
    return [csv_fields(line) for line in lines if line]


def event_id(record: Mapping[str, Any]) -> str:
    """The record's eventMetadata.eventId ("?" when it has none)."""
    metadata = record.get("eventMetadata") or {}
    return str(metadata.get("eventId", "?"))


def _where(record: Mapping[str, Any], location: str) -> str:
    """How messages name a capture record: `Capture record <eventId> (<file>:<line>)`."""
    return f"Capture record {event_id(record)}" + (f" ({location})" if location else "")


def _pair(outputs: list[Row], inputs: list[Row], where: str) -> list[Row]:
    if len(outputs) == len(inputs):
        return [o + i for o, i in zip(outputs, inputs, strict=True)]
    if not outputs or not inputs:
        return outputs or inputs
    if len(outputs) == 1 and len(outputs[0]) == len(inputs):
        return [[value, *row] for value, row in zip(outputs[0], inputs, strict=True)]
    # Unverified: no real failure text for unpairable lines is public; smlocal's wording.
    raise AnalysisError(
        f"{where}: endpointOutput has {len(outputs)} lines but "
        f"endpointInput has {len(inputs)}; they cannot be paired into rows. Use a record "
        "preprocessor script to turn such records into rows."
    )


def _side_rows(side: Mapping[str, Any], where: str, limit: int) -> list[Row]:
    encoding = str(side.get("encoding", "")).upper()
    data = side.get("data") or ""
    if encoding == "CSV":
        return _csv_lines(data, where, limit)
    if encoding == "JSON":
        return _json_fields(data, where, limit) if data.strip() else []
    # Unverified: the real analyzer cannot read BASE64 captures (aws/sagemaker-python-sdk
    # #2629), but its failure text is not public; smlocal's wording.
    raise AnalysisError(
        f"{where} is {encoding or 'not'} encoded; only CSV and JSON captures can be analysed. "
        "Decode it with a record preprocessor script."
    )


def _sides(
    record: Mapping[str, Any], index_names: Sequence[str]
) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
    """The output and input sides to use (None for shadow traffic), encodings checked."""
    metadata = record.get("eventMetadata")
    if metadata and metadata.get("invocationSource") == SHADOW:
        return None, None
    capture = record.get("captureData") or {}
    output = capture.get(OUTPUT) if OUTPUT in index_names else None
    inputs = capture.get(INPUT) if INPUT in index_names else None
    if output and inputs:
        in_encoding = str(inputs.get("encoding", "")).upper()
        out_encoding = str(output.get("encoding", "")).upper()
        if in_encoding != out_encoding:
            raise AnalysisError(encoding_mismatch(in_encoding, out_encoding))
    return output, inputs


def _one_csv_line(side: Mapping[str, Any] | None) -> str | None:
    """A CSV side's payload when it is a single line ("" when absent), else None."""
    if not side:
        return ""
    if str(side.get("encoding", "")).upper() != "CSV":
        return None
    text = side.get("data") or ""
    if text.endswith("\n"):
        text = text[:-2] if text.endswith("\r\n") else text[:-1]
    return None if "\n" in text or "\r" in text else text


def _unpack(capture: Capture) -> tuple[Mapping[str, Any], str]:
    """The record and its location (`file:line`, "" when not known)."""
    if isinstance(capture, Mapping):
        return capture, ""
    return capture.record, str(capture)


def _rows(
    record: Mapping[str, Any], index_names: Sequence[str], location: str, limit: int
) -> list[Row]:
    output, inputs = _sides(record, index_names)
    where = _where(record, location)
    # An output line may hold one value per input line (a batch's answers), so it may be as
    # wide as the input has lines; the rows themselves are checked once paired.
    batch = (inputs.get("data") or "").count("\n") + 1 if inputs else 0
    rows = _pair(
        _side_rows(output, f"{where} {OUTPUT}", max(limit, batch)) if output else [],
        _side_rows(inputs, f"{where} {INPUT}", limit) if inputs else [],
        where,
    )
    for row in rows:
        if len(row) > limit:
            raise AnalysisError(too_many_columns(where, len(row), limit))
    return rows


def record_rows(
    record: Capture,
    index_names: Sequence[str] = DEFAULT_INDEX_NAMES,
    *,
    max_columns: int = MAX_COLUMNS,
) -> list[Row]:
    """The rows of one capture record (empty for shadow traffic)."""
    body, location = _unpack(record)
    return _rows(body, index_names, location, max_columns)


def capture_items(
    records: Iterable[Capture],
    index_names: Sequence[str] = DEFAULT_INDEX_NAMES,
    *,
    max_columns: int = MAX_COLUMNS,
) -> Iterator[str | Row]:
    """Rows of capture records, single-line CSV records as their CSV text (`output,input`).

    Text lines let the engine split a whole batch at once with Arrow's CSV parser, without
    quoting, so exactly on commas; everything else comes as value lists. A row of more than
    `max_columns` values fails, counted before it is split.
    """
    for capture in records:
        record, location = _unpack(capture)
        output, inputs = _sides(record, index_names)
        out_line, in_line = _one_csv_line(output), _one_csv_line(inputs)
        if out_line is not None and in_line is not None:
            width = _csv_width(out_line) + _csv_width(in_line)
            if width > max_columns:
                raise AnalysisError(too_many_columns(_where(record, location), width, max_columns))
            line = f"{out_line},{in_line}" if out_line and in_line else out_line or in_line
            if line:
                yield line
        elif output or inputs:
            yield from _rows(record, index_names, location, max_columns)


def capture_rows(
    records: Iterable[Capture],
    index_names: Sequence[str] = DEFAULT_INDEX_NAMES,
    *,
    max_columns: int = MAX_COLUMNS,
) -> Iterator[Row]:
    """Rows of capture records: output columns first, then input columns."""
    for item in capture_items(records, index_names, max_columns=max_columns):
        yield csv_fields(item) if isinstance(item, str) else item


def parse_time(text: str) -> datetime:
    """An ISO-8601 instant (`2022-04-18T00:21:48Z`); naive times are taken as UTC."""
    moment = datetime.fromisoformat(text.strip().replace(" ", ""))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _json_type(value: Any) -> str:
    kind = _JSON_TYPES.get(type(value), "a number")
    return kind if isinstance(value, dict | list) else f"{kind} ({json.dumps(value)[:40]})"


def check_capture_fields(record: Mapping[str, Any], where: str) -> None:
    """Fail, naming the field's JSON path and type, when a field the analyzer or a record
    preprocessor reads does not have its JSON type (`"data": 5`, `"captureData": []`)."""

    def expect(path: str, value: Any, kind: type) -> None:
        if value is not None and not isinstance(value, kind):
            raise AnalysisError(
                f"{where}: {path} must be {_JSON_TYPES[kind]}, not {_json_type(value)}."
            )

    capture, metadata = record.get("captureData"), record.get("eventMetadata")
    expect("captureData", capture, dict)
    for name, side in (capture or {}).items():
        expect(f"captureData.{name}", side, dict)
        for key in SIDE_STRINGS:
            expect(f"captureData.{name}.{key}", (side or {}).get(key), str)
    expect("eventMetadata", metadata, dict)
    for key in METADATA_STRINGS:
        expect(f"eventMetadata.{key}", (metadata or {}).get(key), str)
    expect("eventMetadata.customAttributes", (metadata or {}).get("customAttributes"), list)
    expect("eventVersion", record.get("eventVersion"), str)


def iter_capture_records(
    folder: Path | str, start: datetime | None, end: datetime | None
) -> Iterator[Located]:
    """Capture records under `folder` whose `inferenceTime` is in [start, end), file by file,
    each with its file and line.

    capture_sink's reader does the listing and parsing, streaming (one file in memory); a
    broken line, or a field of the wrong JSON type, fails the job.
    """
    from smlocal.capture_sink.reader import iter_located

    try:
        for found in iter_located(folder, start, end):
            check_capture_fields(found.record, f"Capture record {found}")
            yield found
    except ValueError as exc:
        raise AnalysisError(str(exc)) from None
