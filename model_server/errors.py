"""Typed failures of an invocation, each with the HTTP status the container answers with."""

from __future__ import annotations


class InvocationError(Exception):
    """A request the server could not answer; the app turns it into a status and a message."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    @property
    def body(self) -> bytes:
        """What the client gets: the message, unless a container answers otherwise."""
        return self.message.encode()

    @property
    def content_type(self) -> str:
        """The Content-Type of `body`."""
        return "text/plain; charset=utf-8"


class UnsupportedContentType(InvocationError):
    """The request's Content-Type is not one the model can read."""

    status = 415


class UnsupportedAccept(InvocationError):
    """None of the media types in Accept is one the model can write."""

    status = 406


class PayloadError(InvocationError):
    """The body could not be read as the declared content type."""

    status = 400


class PredictionError(InvocationError):
    """The model (or the user's inference script) raised while predicting."""

    status = 500


class ModelNotReady(InvocationError):
    """The model is not loaded in this worker, because loading failed or is still going."""

    status = 503


class ModelLoadError(Exception):
    """The artifact cannot be turned into a predictor; the message says why and what to do."""


class ArtifactError(ModelLoadError):
    """The model artifact cannot be fetched or unpacked safely."""


class NoModelFn(ModelLoadError):
    """The scikit-learn container found no model_fn: every request fails, as in SageMaker.

    Its serving.py builds the WSGI app on the first request by importing SAGEMAKER_PROGRAM and
    calling its model_fn; with no program, importlib.import_module(None) raises AttributeError
    (logged first as "Encountered an unexpected error."), and a program without model_fn gets
    sagemaker-containers' default_model_fn, which raises NotImplementedError. Either escapes
    into gunicorn, which logs "Error handling request <path>" and answers its 500 page.
    """

    def __init__(self, error: Exception, *, unexpected: bool) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error
        self.unexpected = unexpected


def no_program() -> NoModelFn:
    """What the scikit-learn container raises when SAGEMAKER_PROGRAM is unset."""
    return NoModelFn(
        AttributeError("'NoneType' object has no attribute 'startswith'"), unexpected=True
    )


def program_without_model_fn() -> NoModelFn:
    """What sagemaker-containers' default_model_fn raises."""
    text = (
        "\nPlease provide a model_fn implementation.\n"
        "See documentation for model_fn at https://github.com/aws/sagemaker-python-sdk\n"
    )
    return NoModelFn(NotImplementedError(text), unexpected=False)
