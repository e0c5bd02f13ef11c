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
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from model_monitor.errors import AnalysisError, encoding_mismatch
from model_monitor.jackson import java_double

INPUT, OUTPUT = "endpointInput", "endpointOutput"
DEFAULT_INDEX_NAMES = (INPUT, OUTPUT)
SHADOW = "ShadowExperiment"
Row = list[str | None]


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


def _json_fields(text: str, where: str) -> list[Row]:
    try:
        return [json_row(json.loads(text), where)]
    except ValueError as exc:
        error = exc
    try:  # JSON Lines: one document per line
        return [json_row(json.loads(line), where) for line in text.splitlines() if line.strip()]
    except ValueError:
        raise AnalysisError(f"{where} is not valid JSON: {error}") from None


def csv_fields(line: str) -> Row:
    """A CSV line split on commas, empty fields missing."""
    fields: Row = list(line.split(","))
    if "" in fields:
        return [field or None for field in fields]
    return fields


def _csv_lines(text: str) -> list[Row]:
    if "\n" not in text and "\r" not in text:  # the usual single-row payload
        return [csv_fields(text)] if text else []
    return [csv_fields(line) for line in text.splitlines() if line]


def _event(record: Mapping[str, Any]) -> str:
    metadata = record.get("eventMetadata") or {}
    return str(metadata.get("eventId", "?"))


def _pair(outputs: list[Row], inputs: list[Row], record: Mapping[str, Any]) -> list[Row]:
    if len(outputs) == len(inputs):
        return [o + i for o, i in zip(outputs, inputs, strict=True)]
    if not outputs or not inputs:
        return outputs or inputs
    if len(outputs) == 1 and len(outputs[0]) == len(inputs):
        return [[value, *row] for value, row in zip(outputs[0], inputs, strict=True)]
    raise AnalysisError(
        f"Capture record {_event(record)}: endpointOutput has {len(outputs)} lines but "
        f"endpointInput has {len(inputs)}; they cannot be paired into rows. Use a record "
        "preprocessor script to turn such records into rows."
    )


def _side_rows(record: Mapping[str, Any], name: str, side: Mapping[str, Any]) -> list[Row]:
    encoding = str(side.get("encoding", "")).upper()
    data = side.get("data") or ""
    if encoding == "CSV":
        return _csv_lines(data)
    where = f"Capture record {_event(record)} {name}"
    if encoding == "JSON":
        return _json_fields(data, where) if data.strip() else []
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


def record_rows(
    record: Mapping[str, Any], index_names: Sequence[str] = DEFAULT_INDEX_NAMES
) -> list[Row]:
    """The rows of one capture record (empty for shadow traffic)."""
    output, inputs = _sides(record, index_names)
    return _pair(
        _side_rows(record, OUTPUT, output) if output else [],
        _side_rows(record, INPUT, inputs) if inputs else [],
        record,
    )


def capture_items(
    records: Iterable[Mapping[str, Any]], index_names: Sequence[str] = DEFAULT_INDEX_NAMES
) -> Iterator[str | Row]:
    """Rows of capture records, single-line CSV records as their CSV text (`output,input`).

    Text lines let the engine split a whole batch at once with Arrow's CSV parser, without
    quoting, so exactly on commas; everything else comes as value lists.
    """
    for record in records:
        output, inputs = _sides(record, index_names)
        out_line, in_line = _one_csv_line(output), _one_csv_line(inputs)
        if out_line is not None and in_line is not None:
            line = f"{out_line},{in_line}" if out_line and in_line else out_line or in_line
            if line:
                yield line
        elif output or inputs:
            yield from record_rows(record, index_names)


def capture_rows(
    records: Iterable[Mapping[str, Any]], index_names: Sequence[str] = DEFAULT_INDEX_NAMES
) -> Iterator[Row]:
    """Rows of capture records: output columns first, then input columns."""
    for item in capture_items(records, index_names):
        yield csv_fields(item) if isinstance(item, str) else item


def parse_time(text: str) -> datetime:
    """An ISO-8601 instant (`2022-04-18T00:21:48Z`); naive times are taken as UTC."""
    moment = datetime.fromisoformat(text.strip().replace(" ", ""))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def iter_capture_records(
    folder: Path, start: datetime | None, end: datetime | None
) -> Iterator[dict[str, Any]]:
    """Capture records under `folder` whose `inferenceTime` is in [start, end), file by file.

    capture_sink's reader does the listing and parsing, streaming (one file in memory); a
    broken line fails the job.
    """
    from capture_sink.reader import iter_records

    try:
        yield from iter_records(folder, start, end, file_order=True)
    except ValueError as exc:
        raise AnalysisError(str(exc)) from None
