"""One capture file's rows, read with Arrow's JSON reader where the record layout allows.

`file_segments` gives the items `readers.capture_items` yields for a file's records in the
window (CSV lines `output,input`, or value lists), as Arrow string arrays of lines or as
lists. Arrow parses the whole file at once and builds the lines with column kernels when all
of these hold for the file:

* every line starts with `{`, none holds a carriage return, the bytes are UTF-8, and Arrow
  reads exactly one object per line;
* every field the analyzer checks (`readers.check_capture_fields`) has its JSON type in every
  record, wherever the record falls;
* every inferenceTime reads as `yyyy-mm-ddThh:mm:ss[.ffffff]Z` (only read with a window);
* every selected side of an in-window, non-shadow record is CSV encoded (spelt in ASCII), a
  single line, and the row within the column limit.

Otherwise (JSON or BASE64 payloads, multi-line CSV, a failure to report, anything Python's
json and Arrow might read differently) the file is read record by record, as before. Both
paths give the same items, so the analysis does not depend on which one ran.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from smlocal.capture_sink.listing import CaptureFile
from smlocal.capture_sink.reader import Located, located_in_window
from smlocal.model_monitor.errors import MAX_COLUMNS, AnalysisError
from smlocal.model_monitor.readers import (
    DEFAULT_INDEX_NAMES,
    INPUT,
    METADATA_STRINGS,
    OUTPUT,
    SHADOW,
    SIDE_STRINGS,
    Row,
    capture_items,
    check_capture_fields,
)

Item: TypeAlias = "str | Row"  # a CSV line (`output,input`) or a row of values
Segment: TypeAlias = "pa.Array | list[Item]"  # a string array holds CSV lines only

# The instants Arrow and datetime.fromisoformat read alike (others go record by record).
_INSTANT = r"^[12]\d{3}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$"
_MICROS = pa.timestamp("us", tz="UTC")
_NEWLINE, _BRACE = ord("\n"), ord("{")
_MAX_BLOCK = 1 << 30  # Arrow parses a file as one block; larger files go record by record
_SIDE = pa.struct([(key, pa.string()) for key in SIDE_STRINGS])
# The fields read here, typed so that Arrow does not take a time-like string for a timestamp;
# the others are inferred (and checked by `_plain`).
_SCHEMA = pa.schema(
    [
        ("captureData", pa.struct([(INPUT, _SIDE), (OUTPUT, _SIDE)])),
        ("eventMetadata", pa.struct([(key, pa.string()) for key in METADATA_STRINGS])),
        ("eventVersion", pa.string()),
    ]
)


@dataclass(frozen=True)
class ReadSpec:
    """What to take from capture files: the window (UTC), the sides, the column limit."""

    start: datetime | None = None
    end: datetime | None = None
    index_names: tuple[str, ...] = DEFAULT_INDEX_NAMES
    max_columns: int = MAX_COLUMNS


@dataclass(frozen=True)
class CaptureSource:
    """A capture file to read (picklable): a local file, or content read beforehand (S3)."""

    uri: str
    size: int
    hour: datetime | None
    content: bytes | None = None

    @classmethod
    def of(cls, file: CaptureFile) -> CaptureSource:
        """A listed file; an S3 object is read here, a local file where it is analysed."""
        content = file.read() if file.uri.startswith("s3://") else None
        return cls(file.uri, file.size, file.hour, content)

    def read(self) -> bytes:
        """The file's bytes."""
        return self.content if self.content is not None else Path(self.uri).read_bytes()


def file_segments(source: CaptureSource, spec: ReadSpec) -> list[Segment]:
    """The items of a capture file's records in the window, as `capture_items` gives them."""
    data = source.read()
    lines = arrow_lines(data, spec)
    if lines is not None:
        return [lines] if len(lines) else []
    file = CaptureFile(source.uri, len(data), source.hour, lambda: data)
    items = capture_items(_checked(file, spec), spec.index_names, max_columns=spec.max_columns)
    return [list(items)]


def file_items(source: CaptureSource, spec: ReadSpec) -> Iterator[Item]:
    """The items of `file_segments`, one by one."""
    for segment in file_segments(source, spec):
        yield from segment.to_pylist() if isinstance(segment, pa.Array) else segment


def _checked(file: CaptureFile, spec: ReadSpec) -> Iterator[Located]:
    """The file's records in the window, fields checked (as `readers.iter_capture_records`)."""
    try:
        for found in located_in_window(file, spec.start, spec.end):
            check_capture_fields(found.record, f"Capture record {found}")
            yield found
    except ValueError as exc:
        raise AnalysisError(str(exc)) from None


def arrow_lines(data: bytes, spec: ReadSpec) -> pa.Array | None:
    """The file's CSV lines read by Arrow, or None when the file must be read record by record."""
    table = _table(data)
    if table is None or not table.num_rows:
        return None if table is None else pa.array([], pa.string())
    keep = _in_window(table, spec)
    if keep is None:
        return None
    metadata = _column(table, "eventMetadata")
    source = _field(metadata, "invocationSource", len(table))
    keep = pc.and_(keep, pc.invert(pc.fill_null(pc.equal(source, SHADOW), False)))
    capture = _column(table, "captureData")
    escapes = b"\\" in data  # without any, no payload holds a line break
    output, inputs = (
        _side_line(capture, name, keep, escapes) if name in spec.index_names else _blank(len(keep))
        for name in (OUTPUT, INPUT)
    )
    if output is None or inputs is None:
        return None
    return _joined(output, inputs, keep, spec.max_columns)


def _table(data: bytes) -> pa.Table | None:
    """The records as a table, or None unless Arrow reads them as Python's json would."""
    if data in (b"", b"\n"):
        return pa.table({})
    lines = _object_lines(data)
    if lines is None or b"\r" in data or not _utf8(data) or len(data) > _MAX_BLOCK:
        return None
    try:
        table = pj.read_json(
            pa.BufferReader(data),
            read_options=pj.ReadOptions(use_threads=False, block_size=max(len(data), 1 << 20)),
            parse_options=pj.ParseOptions(explicit_schema=_SCHEMA),
        )
    except (pa.ArrowException, ValueError):
        return None
    return table if table.num_rows == lines and _plain(table.schema) else None


def _object_lines(data: bytes) -> int | None:
    """How many lines the text has (a last line break ends the last line), or None when one of
    them does not start with `{` (a blank line, say)."""
    text = np.frombuffer(data, np.uint8)
    breaks = np.flatnonzero(text == _NEWLINE)
    starts = breaks[breaks + 1 < len(text)] + 1
    if text[0] != _BRACE or not (text[starts] == _BRACE).all():
        return None
    return len(starts) + 1


def _utf8(data: bytes) -> bool:
    if data.isascii():
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _of(kind: pa.DataType, test: Any) -> bool:
    """Whether a column's type is `test`'s, or null (the field absent or null everywhere)."""
    return bool(pa.types.is_null(kind) or test(kind))


def _text(kind: pa.DataType) -> bool:
    """A JSON string's type: Arrow takes an undeclared time-like string for a timestamp."""
    return bool(pa.types.is_string(kind) or pa.types.is_timestamp(kind))


def _children(kind: pa.DataType) -> dict[str, pa.DataType]:
    return {field.name: field.type for field in kind} if pa.types.is_struct(kind) else {}


def _plain(schema: pa.Schema) -> bool:
    """Whether every field `check_capture_fields` checks has its JSON type in every record."""
    top = {field.name: field.type for field in schema}
    capture, metadata = top.get("captureData", pa.null()), top.get("eventMetadata", pa.null())
    if not (
        _of(capture, pa.types.is_struct)
        and _of(metadata, pa.types.is_struct)
        and _of(top.get("eventVersion", pa.null()), _text)
    ):
        return False
    for side in _children(capture).values():
        fields = _children(side)
        if not _of(side, pa.types.is_struct) or not all(
            _of(fields.get(key, pa.null()), _text) for key in SIDE_STRINGS
        ):
            return False
    fields = _children(metadata)
    strings = all(_of(fields.get(key, pa.null()), _text) for key in METADATA_STRINGS)
    listed = fields.get("customAttributes", pa.null())
    return strings and _of(listed, lambda t: pa.types.is_list(t) or pa.types.is_large_list(t))


def _column(table: pa.Table, name: str) -> pa.Array | None:
    if name not in table.column_names:
        return None
    column = table.column(name).combine_chunks()
    return None if pa.types.is_null(column.type) else column


def _field(parent: pa.Array | None, name: str, rows: int) -> pa.Array:
    """A struct's child, null where the parent is null (all null when absent)."""
    if parent is None or name not in _children(parent.type):
        return pa.nulls(rows, pa.string())
    child = pc.struct_field(parent, name)
    return pa.nulls(rows, pa.string()) if pa.types.is_null(child.type) else child


def _in_window(table: pa.Table, spec: ReadSpec) -> pa.Array | None:
    """Which records are in [start, end) (as capture_sink's reader decides), or None when an
    inferenceTime is not in the one form read here alike."""
    if spec.start is None and spec.end is None:
        return pa.array([True] * len(table), pa.bool_())
    times = _field(_column(table, "eventMetadata"), "inferenceTime", len(table))
    if not pc.all(pc.match_substring_regex(times, _INSTANT)).as_py():  # nulls skipped
        return None
    try:
        moments = pc.cast(times, _MICROS)
    except pa.ArrowException:
        return None
    keep = pc.is_valid(moments)
    if spec.start is not None:
        keep = pc.and_(keep, pc.greater_equal(moments, pa.scalar(spec.start, _MICROS)))
    if spec.end is not None:
        keep = pc.and_(keep, pc.less(moments, pa.scalar(spec.end, _MICROS)))
    return pc.fill_null(keep, False)


def _side_line(
    capture: pa.Array | None, name: str, keep: pa.Array, escapes: bool
) -> pa.Array | None:
    """A side's payload as one CSV line ("" when absent or not kept), or None when a kept
    record's side is not a single CSV line."""
    rows = len(keep)
    if capture is None or name not in _children(capture.type):
        return _blank(rows)
    side = pc.struct_field(capture, name)
    if pa.types.is_null(side.type):
        return _blank(rows)
    used = pc.and_(keep, pc.is_valid(side))
    encoding = _field(side, "encoding", rows)
    csv = pc.fill_null(pc.equal(pc.ascii_upper(encoding), "CSV"), False)
    if not _none(pc.and_(used, pc.invert(csv))):
        return None
    text = pc.fill_null(_field(side, "data", rows), "")
    if escapes:  # one trailing line break goes; any other makes several lines
        text = pc.replace_substring_regex(
            text, pattern=r"\r?\n\z", replacement="", max_replacements=1
        )
        if not _none(pc.and_(used, pc.match_substring_regex(text, r"[\r\n]"))):
            return None
    return pc.if_else(used, text, "")


def _blank(rows: int) -> pa.Array:
    return pa.array([""] * rows, pa.string())


def _none(mask: pa.Array) -> bool:
    return not pc.any(mask).as_py()


def _joined(output: pa.Array, inputs: pa.Array, keep: pa.Array, limit: int) -> pa.Array | None:
    """`output,input` (or the one that is not empty) for kept records; None when a row is
    wider than `limit` (read record by record, the failure names it)."""
    both = pc.and_(pc.greater(pc.binary_length(output), 0), pc.greater(pc.binary_length(inputs), 0))
    lines = pc.binary_join_element_wise(output, inputs, pc.if_else(both, ",", ""))
    lines = pc.filter(lines, pc.and_(keep, pc.greater(pc.binary_length(lines), 0)))
    # A line holds its commas plus one values (`output,input`: those of both sides), so
    # only a line at least `limit` long can hold more.
    longest = pc.max(pc.binary_length(lines)).as_py() or 0
    if longest >= limit and pc.max(pc.count_substring(lines, ",")).as_py() + 1 > limit:
        return None
    return lines
