"""Checking capture files (ours or from AWS) against the record's JSON Schema and the contract.

Each problem names the file, the line (1-based) and the field, e.g.
``capture.jsonl:3: captureData.endpointInput.encoding: 'XML' is not one of [...]``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from smlocal.capture_sink.record import TIME_FORMAT

SCHEMA_FILE = "capture-record.schema.json"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one line of a capture file."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"{self.file}:{self.line}: {where}{self.message}"


def record_schema() -> dict[str, Any]:
    """The JSON Schema of one capture record (shipped with the package)."""
    text = resources.files("capture_sink").joinpath(SCHEMA_FILE).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@functools.cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(record_schema())


def check_record(record: Any) -> list[tuple[str, str]]:
    """(field, message) for every way a parsed record breaks the contract."""
    problems = []
    for error in _validator().iter_errors(record):
        path = [str(p) for p in error.absolute_path]
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            path.append(missing)
            message = "is missing"
        else:
            message = error.message
        problems.append((".".join(path), message))
    if not problems:
        problems.extend(_contract(record))
    return sorted(problems)


def _contract(record: dict[str, Any]) -> list[tuple[str, str]]:
    """What the schema cannot say: real timestamps, decodable base64."""
    problems = []
    moment = record["eventMetadata"]["inferenceTime"]
    try:
        datetime.strptime(moment, TIME_FORMAT)
    except ValueError:
        problems.append(("eventMetadata.inferenceTime", f"{moment!r} is not a real UTC time"))
    for side, entry in record["captureData"].items():
        if entry["encoding"] == "BASE64":
            try:
                base64.b64decode(entry["data"], validate=True)
            except binascii.Error as exc:
                problems.append((f"captureData.{side}.data", f"is not valid base64 ({exc})"))
    return problems


def check_lines(content: bytes, file: str) -> Iterator[Problem]:
    """Every problem of one capture file's content."""
    if not content:
        yield Problem(file, 0, "", "the file is empty")
        return
    lines = content.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    else:
        yield Problem(file, len(lines), "", "the last line does not end with a newline")
    for number, raw in enumerate(lines, start=1):
        yield from _check_line(raw, file, number)


def _check_line(raw: bytes, file: str, number: int) -> Iterator[Problem]:
    try:
        record = json.loads(raw)
    except UnicodeDecodeError:
        yield Problem(file, number, "", "the line is not UTF-8")
        return
    except json.JSONDecodeError as exc:
        what = "an empty line" if not raw.strip() else f"not JSON ({exc.msg}, column {exc.colno})"
        yield Problem(file, number, "", what)
        return
    for field, message in check_record(record):
        yield Problem(file, number, field, message)
