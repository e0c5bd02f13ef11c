"""Dataset files: listing, cutting into line-aligned byte ranges, reading one range.

Like Spark, a large file is read as several partitions of whole lines (a partition owns the
lines that start in it), so partitions can be analysed in parallel and their states merged.
Memory is bounded by one range per worker, whatever the file size.

CSV follows Spark's reader defaults: every column a string, an empty field missing, blank
lines skipped, the first line of each file the header when there is one (header names that
are empty become `_c<i>`, repeated ones get their position appended), otherwise columns are
named `_c0, _c1, ...`; a short row is padded with missing values, a long one cut.

A line of more than `max_columns` fields (CSV) or members (JSON) fails the job, naming the
file and line; it is counted on the raw text, before the line is split or parsed.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.csv as pcsv

from smlocal.model_monitor import objects
from smlocal.model_monitor.arrays import strings
from smlocal.model_monitor.errors import MAX_COLUMNS, AnalysisError, too_many_columns
from smlocal.model_monitor.readers import json_wider_than


@dataclass(frozen=True)
class FileRange:
    """Bytes [start, end) of a file: whole lines; `first` when it starts the file."""

    path: str
    start: int
    end: int

    @property
    def first(self) -> bool:
        """Whether the range holds the file's first line."""
        return self.start == 0


def list_files(source: Path | str) -> list[Path] | list[str]:
    """The dataset's files: the file itself, or every non-hidden file under a folder, sorted
    (objects under an s3:// prefix: `objects`)."""
    if isinstance(source, str):
        return objects.list_objects(source)
    if source.is_file():
        return [source]
    if not source.is_dir():
        raise AnalysisError(f"Dataset source {source} does not exist")
    return sorted(
        p
        for p in source.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(source).parts)
    )


def _next_line_start(handle: BinaryIO, position: int, size: int) -> int:
    """The first line start at or after `position` (a line starts after a newline)."""
    if position <= 0:
        return 0
    handle.seek(position - 1)
    while True:
        block = handle.read(1 << 16)
        if not block:
            return size
        newline = block.find(b"\n")
        if newline >= 0:
            return handle.tell() - len(block) + newline + 1


def plan_ranges(files: Sequence[Path | str], partition_bytes: int) -> list[FileRange]:
    """Line-aligned ranges of at most about `partition_bytes` each, file by file."""
    ranges = []
    for path in files:
        size = objects.size_of(path)
        with objects.open_binary(path) as handle:
            start = 0
            while start < size:
                end = _next_line_start(handle, start + partition_bytes, size)
                ranges.append(FileRange(str(path), start, end))
                start = end
    return ranges


def pack(ranges: Sequence[FileRange], partition_bytes: int) -> list[tuple[FileRange, ...]]:
    """Consecutive ranges grouped into partitions of up to `partition_bytes` (small files
    share a partition, as Spark packs them), order kept."""
    groups: list[tuple[FileRange, ...]] = []
    current: list[FileRange] = []
    size = 0
    for part in ranges:
        length = part.end - part.start
        if current and size + length > partition_bytes:
            groups.append(tuple(current))
            current, size = [], 0
        current.append(part)
        size += length
    if current:
        groups.append(tuple(current))
    return groups


def line_at(path: str, offset: int) -> int:
    """The number (1-based) of the file's line holding byte `offset`; reads the file up to
    there, so it is for messages only."""
    newlines = 0
    with objects.open_binary(path) as handle:
        while offset > 0:
            block = handle.read(min(offset, 1 << 20))
            if not block:
                break
            newlines += block.count(b"\n")
            offset -= len(block)
    return newlines + 1


def csv_width(line: str) -> int:
    """The fields of a CSV line: its commas outside double quotes, plus one (not split)."""
    if '"' not in line:
        return line.count(",") + 1
    return sum(part.count(",") for part in line.split('"')[::2]) + 1


def read_bytes(part: FileRange) -> bytes:
    """The range's bytes."""
    with objects.open_binary(part.path) as handle:
        handle.seek(part.start)
        return handle.read(part.end - part.start)


def _drop_first_line(data: bytes) -> bytes:
    newline = data.find(b"\n")
    return b"" if newline < 0 else data[newline + 1 :]


def first_line(path: Path | str) -> str:
    """The first line of a file, without its line break."""
    with objects.open_binary(path) as handle:
        return handle.readline().decode("utf-8-sig").rstrip("\r\n")


def csv_names(
    files: Sequence[Path | str], header: bool, max_columns: int = MAX_COLUMNS
) -> list[str]:
    """Column names from the first file: its header, or `_c<i>` for each field."""
    first = next((p for p in files if objects.size_of(p)), None)
    line = first_line(first) if first else ""
    if first and (width := csv_width(line)) > max_columns:
        raise AnalysisError(too_many_columns(f"{first}: line 1", width, max_columns))
    fields = next(csv.reader([line]), [])
    if not header:
        return [f"_c{i}" for i in range(len(fields))]
    lowered = [f.lower() for f in fields]
    names = []
    for i, name in enumerate(fields):
        if not name:
            names.append(f"_c{i}")
        elif lowered.count(name.lower()) > 1:
            names.append(f"{name}{i}")  # Spark's rule for duplicate header names
        else:
            names.append(name)
    return names


def _wide_row(part: FileRange, data: bytes, skipped: int, row: Any, limit: int) -> AnalysisError:
    """The failure for a row of more than `limit` fields, naming its line in the file."""
    text = row.text.encode("utf-8")
    offset = 0 if data.startswith(text) else data.find(b"\n" + text) + 1
    line = line_at(part.path, part.start + skipped + offset)
    return AnalysisError(too_many_columns(f"{part.path}: line {line}", row.actual_columns, limit))


def read_csv(
    part: FileRange, names: Sequence[str], header: bool, max_columns: int = MAX_COLUMNS
) -> pa.Table:
    """A CSV range as a table of string columns (nulls for empty fields)."""
    raw = read_bytes(part)
    data = _drop_first_line(raw) if header and part.first else raw
    types = {name: pa.string() for name in names}
    if not data or data.isspace():  # as `not data.strip()`, without copying the range
        return pa.table({name: strings([]) for name in names})
    invalid: list[Any] = []
    wide: list[Any] = []

    def keep_invalid(row: Any) -> str:
        (wide if row.actual_columns > max_columns else invalid).append(row)
        return "skip"

    table = pcsv.read_csv(
        pa.BufferReader(data),
        read_options=pcsv.ReadOptions(column_names=list(names), block_size=max(len(data), 1 << 20)),
        parse_options=pcsv.ParseOptions(invalid_row_handler=keep_invalid),
        convert_options=pcsv.ConvertOptions(
            column_types=types, null_values=[""], strings_can_be_null=True
        ),
    )
    if wide:  # cutting it would be right, but Arrow's row and csv's take as long and as much
        raise _wide_row(part, data, len(raw) - len(data), wide[0], max_columns)
    if invalid:  # ragged rows: parse again the slow way, padding and cutting like Spark
        return _ragged_csv(data, names)
    return table


def parse_csv_text(data: bytes, names: Sequence[str]) -> pa.Table:
    """Lines of comma-separated fields, no quoting (captured payloads), as string columns."""
    return pcsv.read_csv(
        pa.BufferReader(data),
        read_options=pcsv.ReadOptions(column_names=list(names), block_size=max(len(data), 1 << 20)),
        parse_options=pcsv.ParseOptions(quote_char=False),
        convert_options=pcsv.ConvertOptions(
            column_types={name: pa.string() for name in names},
            null_values=[""],
            strings_can_be_null=True,
        ),
    )


def _ragged_csv(data: bytes, names: Sequence[str]) -> pa.Table:
    width = len(names)
    rows = [
        [v or None for v in (row + [""] * width)[:width]]
        for row in csv.reader(io.StringIO(data.decode("utf-8-sig")))
        if row
    ]
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return pa.table({n: strings(c) for n, c in zip(names, columns, strict=True)})


def csv_lines(part: FileRange, header: bool) -> Iterator[str]:
    """Raw lines of a CSV range (with their line breaks), for a record preprocessor."""
    data = _drop_first_line(read_bytes(part)) if header and part.first else read_bytes(part)
    for line in io.StringIO(data.decode("utf-8-sig"), newline=""):
        if line.strip():
            yield line


def json_documents(part: FileRange, lines: bool, max_columns: int = MAX_COLUMNS) -> Iterator[Any]:
    """Parsed JSON: one document per line, or the whole range (a file) as one document."""
    text = read_bytes(part).decode("utf-8-sig")
    if not lines:
        document = _parse(text, part, 1, None)
        records = document if isinstance(document, list) else [document]
        for number, record in enumerate(records, 1):
            if isinstance(record, Mapping | list) and len(record) > max_columns:
                where = f"{part.path}: record {number}"
                raise AnalysisError(too_many_columns(where, len(record), max_columns))
            yield record
        return
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            yield _parse(line, part, number, max_columns)


def _parse(text: str, part: FileRange, number: int, limit: int | None) -> Any:
    """A JSON document: the range's `number`-th line (or its whole text, `limit` None)."""

    def where() -> str:  # the file's line: counted only when there is something to say
        return f"{part.path}: line {line_at(part.path, part.start) + number - 1}"

    if limit is not None and json_wider_than(text, limit):
        raise AnalysisError(too_many_columns(where(), None, limit))
    try:
        return json.loads(text)
    except ValueError as exc:
        raise AnalysisError(f"{where()} is not valid JSON: {exc}") from None
