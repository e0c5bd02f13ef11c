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
from datetime import UTC, datetime, timedelta
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


def _csv_lines(text: str) -> list[Row]:
    lines = text.splitlines()
    return [[field or None for field in line.split(",")] for line in lines if line]


def _event(record: Mapping[str, Any]) -> str:
    metadata = record.get("eventMetadata") or {}
    return str(metadata.get("eventId", "?"))


def _pair(outputs: list[Row], inputs: list[Row], record: Mapping[str, Any]) -> list[Row]:
    if not outputs or not inputs or len(outputs) == len(inputs):
        if not outputs or not inputs:
            return outputs or inputs
        return [o + i for o, i in zip(outputs, inputs, strict=True)]
    if len(outputs) == 1 and len(outputs[0]) == len(inputs):
        return [[value, *row] for value, row in zip(outputs[0], inputs, strict=True)]
    raise AnalysisError(
        f"Capture record {_event(record)}: endpointOutput has {len(outputs)} lines but "
        f"endpointInput has {len(inputs)}; they cannot be paired into rows. Use a record "
        "preprocessor script to turn such records into rows."
    )


def record_rows(
    record: Mapping[str, Any], index_names: Sequence[str] = DEFAULT_INDEX_NAMES
) -> list[Row]:
    """The rows of one capture record (empty for shadow traffic)."""
    if (record.get("eventMetadata") or {}).get("invocationSource") == SHADOW:
        return []
    capture = record.get("captureData") or {}
    sides = {
        name: capture[name] for name in (OUTPUT, INPUT) if name in index_names and capture.get(name)
    }
    encodings = {name: str(side.get("encoding", "")).upper() for name, side in sides.items()}
    if len(set(encodings.values())) > 1:
        raise AnalysisError(encoding_mismatch(encodings[INPUT], encodings[OUTPUT]))
    rows: dict[str, list[Row]] = {}
    for name, side in sides.items():
        data = side.get("data") or ""
        where = f"Capture record {_event(record)} {name}"
        if encodings[name] == "CSV":
            rows[name] = _csv_lines(data)
        elif encodings[name] == "JSON":
            rows[name] = _json_fields(data, where) if data.strip() else []
        else:
            raise AnalysisError(
                f"{where} is {encodings[name] or 'not'} encoded; only CSV and JSON captures can "
                "be analysed. Decode it with a record preprocessor script."
            )
    return _pair(rows.get(OUTPUT, []), rows.get(INPUT, []), record)


def capture_rows(
    records: Iterable[Mapping[str, Any]], index_names: Sequence[str] = DEFAULT_INDEX_NAMES
) -> Iterator[Row]:
    """Rows of capture records: output columns first, then input columns."""
    for record in records:
        yield from record_rows(record, index_names)


def parse_time(text: str) -> datetime:
    """An ISO-8601 instant (`2022-04-18T00:21:48Z`); naive times are taken as UTC."""
    moment = datetime.fromisoformat(text.strip().replace(" ", ""))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _hour_of(path: Path) -> datetime | None:
    """The hour folder `yyyy/mm/dd/hh` a capture file sits in, if it does."""
    parts = path.parts[-5:-1]
    if len(parts) == 4 and all(p.isdigit() for p in parts):
        try:
            year, month, day, hour = map(int, parts)
            return datetime(year, month, day, hour, tzinfo=UTC)
        except ValueError:
            return None
    return None


def iter_capture_records(
    folder: Path, start: datetime | None, end: datetime | None
) -> Iterator[dict[str, Any]]:
    """Capture records under `folder` whose `inferenceTime` is in [start, end), in file order.

    A stand-in for `capture_sink`'s reader: `*.jsonl` files in sorted path order; hour folders
    more than an hour outside the window are not opened.
    """
    margin = timedelta(hours=1)
    for path in sorted(folder.rglob("*.jsonl")):
        hour = _hour_of(path)
        if hour and ((start and hour + margin < start) or (end and hour - margin >= end)):
            continue
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    when = parse_time(record["eventMetadata"]["inferenceTime"])
                except (ValueError, KeyError, TypeError) as exc:
                    raise AnalysisError(f"{path}:{number} is not a capture record: {exc}") from None
                if (start is None or when >= start) and (end is None or when < end):
                    yield record
