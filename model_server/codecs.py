"""Content types in and out: Accept negotiation, payload decoders, encoders.

Decoders turn a request body into a 2-D array (or a CSR matrix for libsvm) and say exactly
which row or field they could not read. Encoders turn predictions into the bytes SageMaker's
framework containers answer with. Both are lookup tables keyed by media type.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from smlocal.capture_sink.record import media_type
from smlocal.model_server.errors import PayloadError, UnsupportedAccept, UnsupportedContentType

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
LIBSVM = "text/libsvm"
NPY = "application/x-npy"

Array = np.ndarray[Any, Any]
# A libsvm feature index: ASCII digits that fit int64 (str.isdigit also takes "²").
_INDEX = re.compile(r"[0-9]{1,18}")


@lru_cache(maxsize=256)
def negotiate(accept: str | None, supported: tuple[str, ...], default: str) -> str:
    """Pick the response media type for an Accept header.

    A missing header or a bare */* gets the default (SageMaker's
    SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT rule); otherwise the client's best-quality type
    that the model can write, ignoring media-type parameters such as charset. Cached:
    clients send the same few headers over and over.
    """
    if not accept or accept.strip() == "*/*":
        return default
    ranges = [(value.split(";")[0].strip().lower(), q) for value, q in parse_accept_header(accept)]
    ordered = [default, *[s for s in supported if s != default]]
    best = MIMEAccept(ranges).best_match(ordered)
    if best is None:
        raise UnsupportedAccept(
            f"Accept {accept!r} names no type this model can answer with; "
            f"supported: {', '.join(ordered)}"
        )
    return best


def _text(body: bytes, kind: str) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(f"{kind} body is not UTF-8 text (byte {exc.start})") from None


def _number(value: str, where: str) -> float:
    if not value.strip():
        return math.nan
    try:
        return float(value)
    except ValueError:
        raise PayloadError(f"{where}: {_shown(value.strip())} is not a number") from None


def _shown(text: str, limit: int = 40) -> str:
    """A field quoted for an error message, cut short: bodies can be megabytes."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def decode_csv(body: bytes) -> Array:
    """CSV without header, one row per line; empty fields are missing values (NaN)."""
    lines = [line for line in _text(body, "CSV").strip().splitlines() if line.strip()]
    if not lines:
        raise PayloadError("CSV body has no rows")
    try:  # the common case, fast; the careful pass below says what is wrong and where
        fast = [[float(v) for v in line.split(",")] for line in lines]
        if len({len(row) for row in fast}) == 1:
            return np.asarray(fast, dtype=np.float32)
    except ValueError:
        pass
    rows: list[list[float]] = []
    width = -1
    for r, line in enumerate(lines, start=1):
        fields = line.split(",")
        if width < 0:
            width = len(fields)
        elif len(fields) != width:
            raise PayloadError(f"CSV row {r} has {len(fields)} values but row 1 has {width}")
        rows.append([_number(v, f"CSV row {r}, column {c}") for c, v in enumerate(fields, 1)])
    return np.asarray(rows, dtype=np.float32)


def decode_libsvm(body: bytes) -> Any:
    """libsvm lines `[label] index:value ...` (0-based indices, as XGBoost reads them)."""
    from scipy.sparse import csr_matrix

    indptr, indices, values = [0], [], []
    lines = [line for line in _text(body, "libsvm").strip().splitlines() if line.strip()]
    if not lines:
        raise PayloadError("libsvm body has no rows")
    for r, line in enumerate(lines, start=1):
        tokens = line.split()
        if tokens and ":" not in tokens[0]:
            tokens = tokens[1:]  # the label, which inference ignores
        for token in tokens:
            index, sep, value = token.partition(":")
            if not sep or not _INDEX.fullmatch(index):
                raise PayloadError(f"libsvm row {r}: {_shown(token)} is not index:value")
            indices.append(int(index))
            values.append(_number(value, f"libsvm row {r}, feature {index}"))
        indptr.append(len(indices))
    width = max(indices, default=-1) + 1
    return csr_matrix(
        (np.asarray(values, dtype=np.float32), np.asarray(indices), np.asarray(indptr)),
        shape=(len(lines), width),
    )


def _json_row(row: Any, where: str) -> list[float]:
    if isinstance(row, dict) and "features" in row:
        row, where = row["features"], f"{where}.features"
    if not isinstance(row, list):
        raise PayloadError(f"{where}: expected a list of numbers, got {type(row).__name__}")
    out = []
    for c, value in enumerate(row):
        if value is None:
            out.append(math.nan)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out.append(float(value))
        else:
            raise PayloadError(f"{where}[{c}]: {value!r} is not a number")
    return out


def decode_json(body: bytes) -> Array:
    """JSON rows: [..] (one row), [[..], ..], {"instances": [..]} or {"features": [..]}."""
    try:
        doc = json.loads(_text(body, "JSON"))
    except json.JSONDecodeError as exc:
        raise PayloadError(f"JSON body is not valid JSON: {exc}") from None
    where = "$"
    if isinstance(doc, dict):
        if "instances" in doc:
            doc, where = doc["instances"], "instances"
        elif "features" in doc:
            doc = [doc]
        else:
            raise PayloadError('JSON object needs an "instances" or a "features" member')
    if not isinstance(doc, list) or not doc:
        raise PayloadError(f"{where}: expected a non-empty list of rows")
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in doc):
        doc = [doc]
    rows = [_json_row(row, f"{where}[{r}]") for r, row in enumerate(doc)]
    width = len(rows[0])
    for r, row in enumerate(rows):
        if len(row) != width:
            raise PayloadError(f"{where}[{r}] has {len(row)} values but the first row has {width}")
    return np.asarray(rows, dtype=np.float32)


def decode_npy(body: bytes) -> Array:
    """A NumPy .npy payload (no pickled objects)."""
    try:
        array: Array = np.load(io.BytesIO(body), allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise PayloadError(f"body is not a NumPy .npy array: {exc}") from None
    return array


Decoder = Callable[[bytes], Any]

DECODERS: dict[str, Decoder] = {
    CSV: decode_csv,
    "text/x-libsvm": decode_libsvm,
    LIBSVM: decode_libsvm,
    JSON: decode_json,
    NPY: decode_npy,
}


def decode(
    body: bytes, content_type: str | None, *, reads: tuple[str, ...], default: str, server: str
) -> Any:
    """Decode a body with its media type's decoder, if this server reads that type.

    `reads` lists the types the server advertises (the first names in its error message);
    aliases such as text/x-libsvm are accepted through DECODERS' keys when listed there too.
    """
    media = media_type(content_type) or default
    if media not in reads:
        shown = [r for r in reads if not r.startswith("text/x-")]
        raise UnsupportedContentType(
            f"Content-Type {content_type!r} is not supported by the {server} model server; "
            f"send {', '.join(shown[:-1])} or {shown[-1]}"
        )
    return DECODERS[media](body)


def _cell(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def encode_csv(predictions: Any) -> bytes:
    """One prediction per line (trailing newline); a row of values per line for 2-D output."""
    rows = np.asarray(predictions).tolist()
    if not isinstance(rows, list):
        rows = [rows]
    lines = (",".join(map(_cell, r)) if isinstance(r, list) else _cell(r) for r in rows)
    return ("\n".join(lines) + "\n").encode()


def encode_json_list(predictions: Any) -> bytes:
    """The predictions as a JSON list (scikit-learn container style)."""
    return json.dumps(np.asarray(predictions).tolist()).encode()


def encode_npy(predictions: Any) -> bytes:
    """The predictions as a NumPy .npy payload."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(predictions), allow_pickle=False)
    return buffer.getvalue()
