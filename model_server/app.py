"""The Flask app of the SageMaker container contract: GET /ping and POST /invocations."""

from __future__ import annotations

import logging
import os

from flask import Flask, Response, request
from werkzeug.exceptions import RequestEntityTooLarge

from smlocal.model_server.errors import InvocationError
from smlocal.model_server.loading import ModelState
from smlocal.model_server.multi_model_routes import add_model_routes, lookup_headers, target_model

log = logging.getLogger(__name__)

TEXT = "text/plain; charset=utf-8"


def create_app(state: ModelState) -> Flask:
    """Build the app around one worker's model state."""
    app = Flask("model_server")
    limit = state.settings.max_payload_bytes
    # One byte more than the limit: werkzeug stops reading a chunked body (no Content-Length)
    # at MAX_CONTENT_LENGTH without a word, so the check below must see a byte too many.
    app.config["MAX_CONTENT_LENGTH"] = limit + 1

    @app.get("/ping")
    def ping() -> Response:
        if state.ready:
            return Response(status=200)
        if state.error:
            return Response(f"model failed to load: {state.error}", 500, content_type=TEXT)
        return Response("model is still loading", 503, content_type=TEXT)

    @app.post("/invocations")
    def invocations() -> Response:
        lookup = None
        if state.models is None:
            predictor = state.require()
        else:
            lookup = state.models.get(target_model(request.headers))
            predictor = lookup.predictor
        body = request.get_data(cache=False)
        if len(body) > limit:
            raise RequestEntityTooLarge()
        answer = predictor.invoke(
            body,
            request.headers.get("Content-Type"),
            request.headers.get("Accept"),
        )
        response = Response(answer.body, answer.status, content_type=answer.content_type)
        if lookup is not None:
            response.headers.update(lookup_headers(lookup))
        return response

    add_model_routes(app, state)

    @app.get("/execution-parameters")
    def execution_parameters() -> dict[str, object]:
        return {
            "MaxConcurrentTransforms": state.settings.workers or os.cpu_count() or 1,
            "BatchStrategy": "MULTI_RECORD",
            "MaxPayloadInMB": limit // (1024 * 1024),
        }

    @app.errorhandler(InvocationError)
    def invocation_error(exc: InvocationError) -> Response:
        if exc.status >= 500:
            log.error("invocation failed (%d): %s", exc.status, exc.message)
        return Response(exc.body, exc.status, content_type=exc.content_type)

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(_exc: RequestEntityTooLarge) -> Response:
        size = request.content_length
        told = f"of {size} bytes " if size else ""
        message = f"request body {told}is above the {limit} byte ({limit // 1048576} MB) limit"
        return Response(message, 413, content_type=TEXT)

    return app
