"""A multi-model server's own routes and headers, beside the container contract's.

`GET /models` lists the models a worker holds and `DELETE /models/{name}` unloads one, after
the multi-model-server API the SageMaker framework containers run (its load call is the first
invocation here, as SageMaker's platform makes it on first use).
"""

from __future__ import annotations

from flask import Flask, Response
from werkzeug.datastructures import Headers

from smlocal.model_server.errors import InvocationError
from smlocal.model_server.loading import ModelState
from smlocal.model_server.multi_model import (
    CACHE_HEADER,
    LOAD_HEADER,
    LOADED_HEADER,
    RUNTIME_ERROR_HEADER,
    TARGET_MODEL_HEADER,
    Lookup,
    TargetModelMissing,
)

TEXT = "text/plain; charset=utf-8"


class NoTargetModel(InvocationError):
    """A multi-model server invoked without a target model (the edge refuses these first)."""

    status = 400


def target_model(headers: Headers) -> str:
    """The invocation's target model, or NoTargetModel."""
    target = headers.get(TARGET_MODEL_HEADER)
    if not target:
        raise NoTargetModel(f"a multi-model endpoint needs the {TARGET_MODEL_HEADER} header")
    return target


def lookup_headers(lookup: Lookup) -> dict[str, str]:
    """What the edge reads for the endpoint's model cache metrics."""
    return {
        CACHE_HEADER: "hit" if lookup.hit else "miss",
        LOAD_HEADER: str(lookup.load_microseconds),
        LOADED_HEADER: str(lookup.loaded),
    }


def add_model_routes(app: Flask, state: ModelState) -> None:
    """GET /models, DELETE /models/{name}, and the wording of a missing target model."""

    @app.get("/models")
    def list_models() -> dict[str, object]:
        names = state.models.names() if state.models is not None else []
        return {"models": [{"modelName": name} for name in names]}

    @app.delete("/models/<path:name>")
    def unload_model(name: str) -> Response:
        if state.models is None or not state.models.unload(name):
            return Response(f"Model not found: {name}", 404, content_type=TEXT)
        return Response(f"Model {name} unloaded", 200, content_type=TEXT)

    @app.errorhandler(TargetModelMissing)
    def missing(exc: TargetModelMissing) -> Response:
        response = Response(exc.body, exc.status, content_type=exc.content_type)
        response.headers[RUNTIME_ERROR_HEADER] = "ValidationError"
        return response
