"""A channel's files as a table of features, labels and weights, with errors that say where.

CSV: the label in the first column (the instance weight in the second with csv_weights=1),
no header row, the delimiter sniffed from the first line like the container does; an empty
feature cell is a missing value. libsvm: `label[:weight] index:value ...` lines. A channel
is every file under its folder (names starting with `.` or `_` skipped), read in name order.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from smlocal.emulator.jobs.training import UserError

CSV, LIBSVM = "csv", "libsvm"
CONTENT_TYPES = {"csv": CSV, "text/csv": CSV, "libsvm": LIBSVM, "text/libsvm": LIBSVM,
                 "text/x-libsvm": LIBSVM}  # fmt: skip
NOT_EMULATED = ("parquet", "application/x-parquet", "recordio-protobuf",
                "application/x-recordio-protobuf")  # fmt: skip
ACCEPTED = ("csv, libsvm, parquet, recordio-protobuf, text/csv, text/libsvm, text/x-libsvm, "
            "application/x-parquet, application/x-recordio-protobuf")  # fmt: skip
DEFAULT_CONTENT_TYPE = "text/libsvm"  # the container's default when a channel names none
LABEL_HINT = (
    "The built-in XGBoost algorithm reads CSV with the label in the first column and no header row."
)


@dataclass
class Table:
    """Rows of one channel: features (dense array or CSR matrix), labels, optional weights."""

    features: Any
    labels: np.ndarray
    weights: np.ndarray | None = None

    @property
    def rows(self) -> int:
        """Number of rows."""
        return int(self.features.shape[0])

    @property
    def columns(self) -> int:
        """Number of feature columns."""
        return int(self.features.shape[1])


def content_type(value: str | None) -> str:
    """CSV or LIBSVM for a channel's ContentType (absent means libsvm), or the UserError."""
    media, _, parameters = (value or DEFAULT_CONTENT_TYPE).lower().partition(";")
    media = media.strip()
    for parameter in parameters.split(";"):
        key, _, setting = parameter.partition("=")
        if key.strip() == "label_size" and setting.strip() != "1":
            raise UserError(
                f"{value} is not an accepted csv ContentType. Optional parameter label_size "
                "must be equal to 1"
            )
    if media in CONTENT_TYPES:
        return CONTENT_TYPES[media]
    if media in NOT_EMULATED:
        raise UserError(
            f"ContentType {value}: smlocal reads CSV and libsvm; {media} is not emulated."
        )
    raise UserError(f"{value} is not an accepted ContentType: {ACCEPTED}.")


def data_files(folder: Path) -> list[Path]:
    """The channel's data files, in name order (hidden and `_` files skipped)."""
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and not any(part.startswith((".", "_")) for part in p.relative_to(folder).parts)
    )


def read_channel(
    folder: Path, kind: str, csv_weights: bool, display: Callable[[Path], str]
) -> Table | None:
    """Every non-empty file of a channel as one table; None when there is no data at all."""
    files = [p for p in data_files(folder) if p.stat().st_size > 0]
    tables = []
    for path in files:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        if not any(line.strip() for line in lines):
            continue
        reader = read_csv if kind == CSV else read_libsvm
        tables.append((display(path), reader(lines, display(path), csv_weights)))
    return concatenate(tables) if tables else None


def sniff_delimiter(line: str) -> str | None:
    """The CSV delimiter of a line (None: whitespace), as the container determines it."""
    try:
        found = csv.Sniffer().sniff(line, delimiters=",;\t| ").delimiter
    except csv.Error:
        return ","
    return None if found == " " else found


def read_csv(lines: list[str], where: str, csv_weights: bool = False) -> Table:
    """CSV lines as a table; UserError naming the row and column of the first bad cell."""
    first = next(line for line in lines if line.strip())
    delimiter = sniff_delimiter(first)
    try:
        matrix = np.loadtxt(lines, delimiter=delimiter, ndmin=2, dtype=np.float32, comments=None)
    except ValueError:
        matrix = _parse_csv(lines, delimiter, where, csv_weights)
    first_feature = 2 if csv_weights else 1
    if matrix.shape[1] <= first_feature:
        raise UserError(
            f"Failed to load csv data: {where} has {matrix.shape[1]} column(s) and so no feature "
            f"columns. {LABEL_HINT}"
        )
    return Table(
        features=matrix[:, first_feature:],
        labels=matrix[:, 0],
        weights=matrix[:, 1] if csv_weights else None,
    )


def _parse_csv(lines: list[str], delimiter: str | None, where: str, weights: bool) -> np.ndarray:
    rows: list[list[float]] = []
    width, width_row = 0, 0
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        cells = line.split(delimiter)
        if not rows:
            width, width_row = len(cells), number
        elif len(cells) != width:
            raise UserError(
                f"Failed to load csv data: {where}, row {number} has {len(cells)} columns but "
                f"row {width_row} has {width}."
            )
        rows.append([_csv_cell(cell, number, column, where, weights) for column, cell in
                     enumerate(cells, 1)])  # fmt: skip
    return np.asarray(rows, dtype=np.float32)


def _csv_cell(cell: str, row: int, column: int, where: str, weights: bool) -> float:
    text = cell.strip()
    required = column == 1 or (weights and column == 2)
    if not text and not required:
        return float("nan")
    try:
        return float(text)
    except ValueError:
        role = {1: " (the label)", 2: " (the instance weight)" if weights else ""}.get(column, "")
        hint = f" {LABEL_HINT}" if column == 1 else ""
        raise UserError(
            f"Failed to load csv data: {where}, row {row}, column {column}{role}: {cell!r} is "
            f"not a number.{hint}"
        ) from None


def read_libsvm(lines: list[str], where: str, _csv_weights: bool = False) -> Table:
    """libsvm lines as a sparse table; UserError naming the row and token that is wrong."""
    from scipy.sparse import csr_matrix

    labels: list[float] = []
    weights: list[float] = []
    indptr, indices, values = [0], [], []
    for number, line in enumerate(lines, 1):
        tokens = line.split("#", 1)[0].split()
        if not tokens:
            continue
        label, _, weight = tokens[0].partition(":")
        labels.append(_libsvm_number(label, number, where, "label"))
        weights.append(_libsvm_number(weight, number, where, "instance weight") if weight else 1.0)
        for token in tokens[1:]:
            key, colon, value = token.partition(":")
            if key == "qid":
                continue
            if not colon or not key.isdigit():
                raise UserError(
                    f"Failed to load libsvm data: {where}, row {number}: {token!r} is not an "
                    "index:value pair (indices are non-negative integers)."
                )
            indices.append(int(key))
            values.append(_libsvm_number(value, number, where, f"value of feature {key}"))
        indptr.append(len(indices))
    width = max(indices, default=-1) + 1
    features = csr_matrix(
        (np.asarray(values, dtype=np.float32), indices, indptr), shape=(len(labels), width)
    )
    has_weights = any(w != 1.0 for w in weights)
    return Table(features, np.asarray(labels, dtype=np.float32),
                 np.asarray(weights, dtype=np.float32) if has_weights else None)  # fmt: skip


def _libsvm_number(text: str, row: int, where: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UserError(
            f"Failed to load libsvm data: {where}, row {row}: the {what} {text!r} is not a number."
        ) from None


def concatenate(tables: list[tuple[str, Table]]) -> Table:
    """Tables of one channel's files as one (CSV files must have the same columns)."""
    if len(tables) == 1:
        return tables[0][1]
    first_name, first = tables[0]
    sparse = hasattr(first.features, "tocsr")
    if not sparse:
        for name, table in tables[1:]:
            if table.columns != first.columns:
                raise UserError(
                    f"Failed to load csv data: {name} has {table.columns} feature columns but "
                    f"{first_name} has {first.columns}."
                )
    weights = [t.weights for _, t in tables]
    return Table(
        features=stack([t.features for _, t in tables]),
        labels=np.concatenate([t.labels for _, t in tables]),
        weights=None
        if all(w is None for w in weights)
        else np.concatenate(
            [
                w if w is not None else np.ones(t.rows, np.float32)
                for w, (_, t) in zip(weights, tables, strict=True)
            ]
        ),
    )


def stack(parts: list[Any]) -> Any:
    """Dense arrays or CSR matrices one under the other (sparse ones widened to the widest)."""
    if not hasattr(parts[0], "tocsr"):
        return np.vstack(parts)
    from scipy.sparse import vstack

    width = max(p.shape[1] for p in parts)
    for part in parts:
        part.resize((part.shape[0], width))
    return vstack(parts, format="csr")
