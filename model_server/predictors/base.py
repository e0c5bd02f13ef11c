"""The inference handler pipeline every framework plugs into.

SageMaker's framework containers all answer an invocation the same way: `input_fn` decodes
the body, `predict_fn` runs the model, `output_fn` encodes the prediction (or one
`transform_fn` does all three), and a user's `inference.py` may replace any of them. Each
framework plugin supplies default handlers; `HandlerPredictor` runs them and turns failures
into the container's statuses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from smlocal.capture_sink.record import media_type
from smlocal.model_server.codecs import negotiate
from smlocal.model_server.errors import InvocationError, PredictionError

log = logging.getLogger(__name__)

InputFn = Callable[[Any, str | None], Any]
PredictFn = Callable[[Any, Any], Any]
OutputFn = Callable[[Any, str], Any]
TransformFn = Callable[[Any, Any, str | None, str], Any]
FailureFn = Callable[[Exception], InvocationError]


@dataclass(frozen=True)
class Answer:
    """The body, Content-Type and status of a successful invocation."""

    body: bytes
    content_type: str
    status: int = 200


@dataclass(frozen=True)
class Handlers:
    """The four handler functions of SageMaker's inference contract, plus their origin."""

    input_fn: InputFn
    predict_fn: PredictFn
    output_fn: OutputFn
    transform_fn: TransformFn | None = None
    # What the default output_fn can write, negotiated against Accept. A user's output_fn
    # or transform_fn gets the Accept header as sent (or the default) instead.
    accepts: tuple[str, ...] = ()
    default_accept: str = "application/json"
    empty_body_status: int | None = None  # XGBoost answers an empty body with 204
    text_payloads: bool = False  # a user's input_fn gets str for CSV/JSON, like the containers
    # How the container answers when a handler raises (None: 500 with the exception's text).
    failure: FailureFn | None = None

    def with_user_functions(self, functions: dict[str, Any]) -> Handlers:
        """A copy where the user's handler functions (those not None) replace the defaults."""
        chosen = {k: v for k, v in functions.items() if v is not None}
        if "input_fn" in chosen or "transform_fn" in chosen:
            chosen["text_payloads"] = True
        if "output_fn" in chosen or "transform_fn" in chosen:
            chosen["accepts"] = ()
        return replace(self, **chosen)


_TEXT_TYPES = ("text/", "application/json", "application/jsonlines")


class HandlerPredictor:
    """Runs input_fn → predict_fn → output_fn (or transform_fn) for one model."""

    def __init__(self, model: Any, handlers: Handlers) -> None:
        self.model = model
        self.handlers = handlers

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> Answer:
        """Answer one invocation; raise an InvocationError for anything that fails."""
        h = self.handlers
        if h.accepts:
            wanted = negotiate(accept, h.accepts, h.default_accept)
        else:
            wanted = accept if accept and accept.strip() != "*/*" else h.default_accept
        if not body and h.empty_body_status is not None:
            return Answer(b"", wanted, h.empty_body_status)
        payload: Any = body
        if h.text_payloads and (media_type(content_type) or "").startswith(_TEXT_TYPES):
            payload = body.decode("utf-8", errors="replace")
        try:
            if h.transform_fn is not None:
                result = h.transform_fn(self.model, payload, content_type, wanted)
            else:
                data = h.input_fn(payload, content_type)
                result = h.output_fn(h.predict_fn(data, self.model), wanted)
        except InvocationError:
            raise
        except Exception as exc:
            log.exception("invocation failed")
            if h.failure is not None:
                raise h.failure(exc) from None
            raise PredictionError(f"{type(exc).__name__}: {exc}") from None
        return to_answer(result, wanted)


def to_answer(result: Any, content_type: str) -> Answer:
    """Normalise what an output_fn may return: bytes, str, or (body, content_type)."""
    if isinstance(result, tuple) and len(result) == 2:
        result, content_type = result
    if isinstance(result, str):
        result = result.encode()
    if not isinstance(result, bytes | bytearray):
        raise PredictionError(
            f"output_fn returned {type(result).__name__}; it must return bytes, str or "
            "(body, content_type)"
        )
    return Answer(bytes(result), content_type)


def regular_files(model_dir: Path) -> list[Path]:
    """The visible regular files directly in a model folder, sorted by name."""
    return sorted(p for p in model_dir.iterdir() if p.is_file() and not p.name.startswith("."))
