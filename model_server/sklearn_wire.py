"""The bytes SageMaker's scikit-learn container reads and writes with its default handlers.

Single-model endpoints of every image (0.20.0 to 1.4-2) serve through sagemaker-containers'
Flask worker (aws/sagemaker-scikit-learn-container `src/sagemaker_sklearn_container/serving.py`
with sagemaker-containers 2.8.6.post2 `_encoders.py`, `_worker.py`, `_transformer.py`):

- the decoder is looked up by the exact Content-Type string, so `text/csv; charset=utf-8` is
  not text/csv; a request without one is JSON;
- CSV rows go through `np.array(rows).squeeze()` (`np.genfromtxt` in the 0.20.0 images), so
  one row (or one column) comes out 1-D and scikit-learn's `predict` refuses it ("Expected 2D
  array, got 1D array instead");
- CSV and JSON are then cast to float32; .npy is used as sent;
- the encoder is looked up by the exact Accept (missing or `*/*`: the default accept);
- the toolkit wraps input_fn, predict_fn and output_fn so that whatever they raise becomes a
  ClientError, which Flask answers with its generic HTML 500 page: an unsupported Content-Type
  or Accept, an unreadable body and the model's own error all look the same to the client, and
  the reason is only in the endpoint's log.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

import numpy as np

from smlocal.model_server.errors import InvocationError
from smlocal.model_server.images import ImageUri

CSV = "text/csv"
JSON = "application/json"
NPY = "application/x-npy"

Array = np.ndarray[Any, Any]


class UnsupportedFormat(ValueError):
    """A Content-Type or Accept the container has no default decoder or encoder for."""

    def __init__(self, content_type: str, role: str) -> None:
        super().__init__(
            f"{role} {content_type!r} is not one of {CSV}, {JSON}, {NPY} (matched exactly, "
            "parameters included); an input_fn/output_fn in inference.py can handle it"
        )


def _text(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")  # as werkzeug's get_data(as_text=True)


def _csv(body: bytes) -> Array:
    rows = list(csv.reader(io.StringIO(_text(body)), delimiter=",", quotechar='"', strict=True))
    return np.array(rows).squeeze().astype(np.float64).astype(np.float32)


def _csv_genfromtxt(body: bytes) -> Array:
    # sagemaker-containers before 2.5.10 (the 0.20.0 images): a missing or non-numeric field
    # is NaN, and columns are typed one by one, so integers next to decimals make a record
    # that cannot be cast to float32
    rows = np.genfromtxt(io.StringIO(_text(body)), dtype=None, delimiter=",", encoding="utf-8")
    return np.asarray(rows).astype(np.float32)


def _json(body: bytes) -> Array:
    return np.array(json.loads(_text(body))).astype(np.float32)


def _npy(body: bytes) -> Array:
    # the container loads with allow_pickle=True; smlocal never unpickles a request body
    array: Array = np.load(io.BytesIO(body), allow_pickle=False)
    return array


Decoder = Callable[[bytes], Array]
_DECODERS: dict[str, Decoder] = {CSV: _csv, JSON: _json, NPY: _npy}
_DECODERS_0_20: dict[str, Decoder] = {**_DECODERS, CSV: _csv_genfromtxt}


def input_fn(image: ImageUri | None) -> Callable[[bytes, str | None], Array]:
    """The image's default input_fn: the array predict_fn gets, 1-D for one CSV row."""
    old = image is not None and not image.at_least(0, 23)
    decoders = _DECODERS_0_20 if old else _DECODERS

    def decode(body: bytes, content_type: str | None) -> Array:
        chosen = content_type or JSON
        decoder = decoders.get(chosen)
        if decoder is None:
            raise UnsupportedFormat(chosen, "Content-Type")
        return decoder(body)

    return decode


def _to_list(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _encode_csv(predictions: Any) -> bytes:
    array = np.array(predictions)
    if array.ndim == 1:
        array = array.reshape(array.shape[0], 1)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n", delimiter=",", quotechar='"', strict=True).writerows(array)
    return out.getvalue().encode()


def _encode_npy(predictions: Any) -> bytes:
    out = io.BytesIO()
    np.save(out, np.asarray(predictions))
    return out.getvalue()


def _encode_json(predictions: Any) -> bytes:
    return json.dumps(predictions, default=_to_list).encode()


_ENCODERS: dict[str, tuple[Callable[[Any], bytes], str]] = {
    JSON: (_encode_json, JSON),
    CSV: (_encode_csv, "text/csv; charset=utf-8"),  # Flask adds the charset to text/*
    NPY: (_encode_npy, NPY),
}


def encode(predictions: Any, accept: str) -> tuple[bytes, str]:
    """The container's default output_fn: the body and its Content-Type."""
    found = _ENCODERS.get(accept)
    if found is None:
        raise UnsupportedFormat(accept, "Accept")
    writer, content_type = found
    return writer(predictions), content_type


# Flask's answer to an unhandled exception is werkzeug's InternalServerError page. The
# images pin different werkzeug versions (requirements.txt at each tag): 0.14 in the 0.20.0
# images (two spaces after "request."), 0.15.6 from 0.23-1 to 1.2-1, 2.0.3 from 1.4-2, which
# adds the charset to the Content-Type.
_PAGE = (
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n'
    "<title>500 Internal Server Error</title>\n"
    "<h1>Internal Server Error</h1>\n"
    "<p>The server encountered an internal error and was unable to complete your request."
    "{gap}Either the server is overloaded or there is an error in the application.</p>\n"
)


class ErrorPage(InvocationError):
    """A handler failed: the client gets Flask's generic 500 page; the log gets the reason."""

    status = 500

    def __init__(self, reason: str, image: ImageUri | None) -> None:
        super().__init__(reason)
        old = image is not None and not image.at_least(0, 23)
        self.page = _PAGE.format(gap="  " if old else " ").encode()
        newer = image is None or image.at_least(1, 4)
        self.page_type = "text/html; charset=utf-8" if newer else "text/html"

    @property
    def body(self) -> bytes:
        """Flask's page, not the reason."""
        return self.page

    @property
    def content_type(self) -> str:
        """text/html, with the charset from werkzeug 1.0 on."""
        return self.page_type
