"""The bytes SageMaker's XGBoost container reads and writes in algorithm mode, per image version.

Algorithm mode (no SAGEMAKER_PROGRAM) is the Flask app of aws/sagemaker-xgboost-container
`src/sagemaker_xgboost_container/algorithm_mode/serve.py` on every tag; what changed between
tags is in VERSIONS below, one row per image with the source it comes from. The rest is the
same on every tag and cited where it is written:

- Content-Type (`data_utils.get_content_type`, identical 0.90-1 to 3.0-5): none means libsvm;
  csv, libsvm and recordio-protobuf in their bare and MIME spellings; parquet is recognised
  and then refused; anything else, JSON included, answers 415 with the toolkit's list.
- A body the decoder cannot read also answers 415 (`serve_utils.parse_content_data`); a
  row width the model cannot take answers 400 (`serve_utils.predict`).
- Errors are `flask.Response(str(e), status)`, so text/html; a 500 that the handler does not
  catch is Flask 1.1's generic HTML page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from smlocal.model_server.errors import InvocationError
from smlocal.model_server.images import ImageVersion, parse_image

CSV = "text/csv"
JSON = "application/json"
JSONLINES = "application/jsonlines"
RECORDIO = "application/x-recordio-protobuf"
NPY = "application/x-npy"
# serve.py SUPPORTED_ACCEPTS (1.0-1 on), in its order: the 406 message prints this list
SUPPORTED_ACCEPTS = [JSON, JSONLINES, RECORDIO, CSV]
# data_utils.VALID_CONTENT_TYPES, in its order: the 415 message prints this list
VALID_CONTENT_TYPES = (
    "csv, libsvm, parquet, recordio-protobuf, text/csv, text/libsvm, text/x-libsvm, "
    "application/x-parquet, application/x-recordio-protobuf"
)
FLASK_500 = (
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 3.2 Final//EN">\n'
    "<title>500 Internal Server Error</title>\n"
    "<h1>Internal Server Error</h1>\n"
    "<p>The server encountered an internal error and was unable to complete your request. "
    "Either the server is overloaded or there is an error in the application.</p>\n"
)


@dataclass(frozen=True)
class XGBoostWire:
    """What one image version of the XGBoost container does on the wire."""

    # True: the answer is always text/csv, ",".join(map(str, preds.tolist())) with no newline,
    # and Accept is read only for SAGEMAKER_INFERENCE_OUTPUT. False: Accept picks the encoder
    # (sagemaker-containers' encoders; JSON as {"predictions": [{"score": ..}]}).
    joined_csv: bool
    # SAGEMAKER_INFERENCE_OUTPUT (selectable inference output) is honoured.
    selectable_output: bool
    # reg:absoluteerror is among the objectives selectable output knows.
    absolute_error_selectable: bool = False


VERSIONS: list[tuple[ImageVersion, XGBoostWire]] = [
    # xgboost-container@0.90-1 and @0.90-2 algorithm_mode/serve.py invocations(): no Accept
    # handling at all, return_data = ",".join(map(str, preds.tolist())), mimetype="text/csv"
    (ImageVersion(0, 90, 1), XGBoostWire(joined_csv=True, selectable_output=False)),
    # @1.0-1 and @1.2-1 serve.py: the same CSV; SAGEMAKER_INFERENCE_OUTPUT added (PR #111,
    # 2020-06); these branches never got the accept encodings of PR #269-#271 (2022-04)
    (ImageVersion(1, 0, 1), XGBoostWire(joined_csv=True, selectable_output=True)),
    # @1.2-2 fc5a8ed / 84d795c and @1.3-1 aa5baaa / 1982d8c (2022-04, the tags rebuilt in
    # place): encoders.encode(preds_list, accept), JSON via serve_utils.encode_predictions_as_json
    (ImageVersion(1, 2, 2), XGBoostWire(joined_csv=False, selectable_output=True)),
    # @1.5-1 and @v1.7-1: the same code as 1.3-1 since 7f160b9 (PR #269)
    # @v3.0-5 serve_utils.VALID_OBJECTIVES gains REG_ABSOLUTEERR
    (
        ImageVersion(3, 0, 5),
        XGBoostWire(joined_csv=False, selectable_output=True, absolute_error_selectable=True),
    ),
]


def wire_for(image: str | None) -> XGBoostWire:
    """The behaviour of the image a model names; unversioned or unknown: the newest."""
    version = parse_image(image).version if image else None
    if version is None:
        return VERSIONS[-1][1]
    chosen = VERSIONS[0][1]  # anything older than 0.90-1 answers as 0.90-1
    for since, wire in VERSIONS:
        if version >= since:
            chosen = wire
    return chosen


class ContainerError(InvocationError):
    """An error answered as the container's Flask app answers it: the text, as text/html."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status

    @property
    def content_type(self) -> str:
        """What flask.Response(text, status) sends: its default mimetype, text/html."""
        return "text/html; charset=utf-8"


def parse_header(value: str) -> tuple[str, dict[str, str]]:
    """cgi.parse_header: the value before the first `;`, stripped, and its parameters."""
    key, *rest = value.split(";")
    params = {}
    for part in rest:
        name, sep, val = part.partition("=")
        if sep:
            params[name.strip().lower()] = val.strip().strip('"')
    return key.strip(), params


def content_kind(content_type: str | None) -> str:
    """data_utils.get_content_type: 'csv', 'libsvm', 'recordio-protobuf' or 'parquet'."""
    if content_type is None:
        return "libsvm"
    media, params = parse_header(content_type.lower())
    if media in ("csv", CSV):
        if params.get("label_size", "1") != "1":
            raise ContainerError(
                f"{content_type} is not an accepted csv ContentType. "
                "Optional parameter label_size must be equal to 1",
                415,
            )
        return "csv"
    if media in ("libsvm", "text/libsvm", "text/x-libsvm"):
        return "libsvm"
    if media in ("parquet", "application/x-parquet"):
        return "parquet"
    if media in ("recordio-protobuf", RECORDIO):
        return "recordio-protobuf"
    raise ContainerError(
        f"{content_type} is not an accepted ContentType: {VALID_CONTENT_TYPES}.", 415
    )


def parse_accept(accept: str | None, default: str) -> str:
    """serve._parse_accept: missing or */* is the default; only the part before `;` counts."""
    media, _ = parse_header(accept or "")
    if not media or media == "*/*":
        return default
    if media.lower() not in SUPPORTED_ACCEPTS:
        raise ContainerError(
            f"Accept type {media} is not supported. Please use supported accept types: "
            f"{SUPPORTED_ACCEPTS}.",
            406,
        )
    return media.lower()


def joined_csv(predictions: Any) -> bytes:
    """0.90-1 to 1.2-1: every prediction on one line, comma-separated, no newline.

    A softprob row is a Python list, so it prints as `[0.1, 0.2, 0.7]`.
    """
    return ",".join(map(str, np.asarray(predictions).tolist())).encode()


def batch_lines(predictions: Any) -> bytes:
    """With SAGEMAKER_BATCH (every tag's serve.py): one prediction a line, each line ended."""
    return "".join(f"{p}\n" for p in np.asarray(predictions).tolist()).encode()


def encoded(predictions: Any, accept: str) -> bytes:
    """1.2-2 on: sagemaker-containers' encoders (v2.8.6.post2 `_encoders.py`) by Accept.

    CSV is `csv.writer` over the rows (one value per line for 1-D, floats by repr, `\\n` after
    each line); JSON is serve_utils.encode_predictions_as_json; .npy is np.save of the list.
    jsonlines and recordio-protobuf pass _parse_accept but have no encoder there: Flask's 500.
    """
    rows = np.asarray(predictions).tolist()
    if accept == CSV:
        lines = rows if rows and isinstance(rows[0], list) else [[v] for v in rows]
        return "".join(",".join(map(repr, line)) + "\n" for line in lines).encode()
    if accept == JSON:
        return json.dumps({"predictions": [{"score": p} for p in rows]}).encode()
    if accept == NPY:
        import io

        buffer = io.BytesIO()
        np.save(buffer, np.asarray(rows), allow_pickle=False)
        return buffer.getvalue()
    raise ContainerError(FLASK_500, 500)


def response_type(accept: str) -> str:
    """Flask's Content-Type for mimetype=accept: charset added to text/* only."""
    return f"{accept}; charset=utf-8" if accept.startswith("text/") else accept
