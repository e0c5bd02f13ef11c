"""Requests in and answers out, as the XGBoost container's algorithm-mode app handles them.

aws/sagemaker-xgboost-container `algorithm_mode/serve.py` and `serve_utils.py`
(parse_content_data, predict's width check, invocations()); what differs per image version
comes from model_server/xgboost_wire.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from smlocal.capture_sink.record import media_type
from smlocal.model_server.codecs import JSON, decode_csv, decode_json, decode_libsvm
from smlocal.model_server.errors import PayloadError
from smlocal.model_server.recordio_protobuf import RecordIOError, feature_rows
from smlocal.model_server.xgboost_selectable import (
    SelectableError,
    encode_selected,
    selected_predictions,
)
from smlocal.model_server.xgboost_wire import (
    CSV,
    JSONLINES,
    ContainerError,
    XGBoostWire,
    batch_lines,
    content_kind,
    encoded,
    joined_csv,
    parse_accept,
    response_type,
)


def read_request(body: bytes, content_type: str | None, *, lenient: bool) -> Any:
    """The rows of a request; what the container cannot read answers 415, as it does.

    (serve_utils.parse_content_data.) With lenient containers, JSON rows are read too.
    """
    if lenient and media_type(content_type) == JSON:
        return _lenient_json(body)
    kind = content_kind(content_type)
    try:
        if kind == "csv":
            return decode_csv(body.strip())
        if kind == "libsvm":
            return decode_libsvm(body.strip())
        if kind == "recordio-protobuf":
            return feature_rows(body)
    except (PayloadError, RecordIOError) as exc:
        raise ContainerError(_load_failed(kind, exc), 415) from None
    except _DECODER_SLIPS as exc:  # parse_content_data answers 415 for any exception
        raise ContainerError(_load_failed(kind, exc), 415) from None
    raise ContainerError(f"Content-type {content_type} is not supported.", 415)


def _lenient_json(body: bytes) -> Any:
    try:
        return decode_json(body)
    except PayloadError as exc:
        raise ContainerError(exc.message, 400) from None


# What a decoder could raise on input it failed to check: still the container's 415, not a 500.
_DECODER_SLIPS = (ValueError, TypeError, AttributeError, OverflowError, IndexError, KeyError)


def _load_failed(kind: str, exc: Exception) -> str:
    text = str(exc)
    if isinstance(exc, PayloadError | RecordIOError):
        cause = "UnicodeDecodeError" if "UTF-8" in text else "ValueError"
    else:
        cause, text = type(exc).__name__, text[:200]
    if kind == "recordio-protobuf":
        return (
            "Loading recordio-protobuf data failed with Exception, please ensure data is in "
            f"recordio-protobuf format: <class '{cause}'> {text}"
        )
    return (
        f"Loading {kind} data failed with Exception, please ensure data is in {kind} format:"
        f"\n <class '{cause}'>\n {text}"
    )


def fit_width(data: Any, num_features: int, *, lenient: bool = False) -> Any:
    """The container's width check (serve_utils.predict): as many columns as the model has
    features, or one fewer (the last feature then missing); libsvm up to one index beyond.

    With lenient containers a leading label column (one value too many) is dropped instead.
    """
    width = data.shape[1]
    if hasattr(data, "tocsr"):
        if width > num_features + 1:
            raise ContainerError(
                f"{_UNABLE}Feature size of libsvm inference data {width} is larger than "
                f"feature size of trained model {num_features}.",
                400,
            )
        data.resize((data.shape[0], num_features))
        return data
    if lenient and width == num_features + 1:
        return data[:, 1:]
    if width == num_features:
        return data
    if width + 1 == num_features:
        return np.hstack([data, np.full((data.shape[0], 1), np.nan, dtype=data.dtype)])
    raise ContainerError(
        f"{_UNABLE}Feature size of csv inference data {width} is not consistent with feature "
        f"size of trained model {num_features}.",
        400,
    )


_UNABLE = "Unable to evaluate payload provided: "


@dataclass(frozen=True)
class Selected:
    """Predictions with what SAGEMAKER_INFERENCE_OUTPUT needs to know of the model."""

    predictions: Any
    objective: str
    num_class: str


@dataclass(frozen=True)
class Responder:
    """The container's answer for one image version: the output_fn of the handlers."""

    wire: XGBoostWire
    default_accept: str
    lenient: bool
    selected_keys: list[str] | None = None
    batch: bool = False  # SAGEMAKER_BATCH: serve.py answers one line per prediction

    def __call__(self, predictions: Any, accept: str) -> tuple[bytes, str]:
        if isinstance(predictions, Selected):
            return self._selected(predictions, self._accept(accept))
        if self.wire.joined_csv:
            body = batch_lines(predictions) if self.batch else joined_csv(predictions)
            return body, "text/csv; charset=utf-8"
        chosen = self._accept(accept)
        if self.batch:  # Accept is parsed (a 406 stays a 406), then ignored for the body
            return batch_lines(predictions), response_type(chosen)
        if self.lenient and chosen == JSONLINES:
            rows = np.asarray(predictions, dtype=np.float64).tolist()
            return "".join(json.dumps({"score": p}) + "\n" for p in rows).encode(), JSONLINES
        return encoded(predictions, chosen), response_type(chosen)

    def _accept(self, accept: str) -> str:
        """The Accept to encode for; the default (none or */* was sent) is used unchecked, as
        _parse_accept returns SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT as it is."""
        return (
            accept if accept == self.default_accept else parse_accept(accept, self.default_accept)
        )

    def _selected(self, selected: Selected, accept: str) -> tuple[bytes, str]:
        keys = self.selected_keys or []
        try:
            rows = selected_predictions(
                selected.predictions,
                keys,
                selected.objective,
                selected.num_class,
                absolute_error=self.wire.absolute_error_selectable,
            )
            body = encode_selected(rows, keys, accept)
            if self.batch and accept == CSV:  # encode_selected_predictions adds it in batch
                body += b"\n"
            return body, response_type(accept)
        except SelectableError as exc:
            raise ContainerError(str(exc), 500) from None
