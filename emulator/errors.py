"""AWS errors: one base class carrying the AWS code, HTTP status and message.

Each subclass is named after the AWS error code it stands for; `smlocal.emulator.wire.responses`
is the only place that turns one into an HTTP response. The statuses follow the botocore service
models (a modeled error shape without `httpStatusCode` is a 400);
`tests/emulator/test_errors.py` keeps them in step.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AWSError(Exception):
    """An error answered to the client: AWS error code, HTTP status, message, extra members."""

    code: ClassVar[str] = "InternalFailure"
    status: ClassVar[int] = 500
    # True when the service model declares the error shape: its `Message` member is then
    # written under that name too, so botocore's modeled parse fills `response["Message"]`.
    modeled: ClassVar[bool] = False

    def __init__(self, message: str = "", **members: Any) -> None:
        super().__init__(message)
        self.message = message
        self.members: dict[str, Any] = {k: v for k, v in members.items() if v is not None}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in cls.__dict__:
            cls.code = cls.__name__

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


# ---- shared by both services ------------------------------------------------------------


class InternalFailure(AWSError):
    """The service failed; botocore retries it (modeled for the runtime, HTTP 500)."""

    status = 500
    modeled = True


class SerializationException(AWSError):
    """The request body could not be read as the operation's input (malformed JSON, wrong type)."""

    status = 400


class UnknownOperationException(AWSError):
    """No operation of the service answers this target or path."""

    status = 400


# ---- control plane (`sagemaker`, JSON 1.1) ----------------------------------------------


class ValidationException(AWSError):
    """A request parameter breaks a constraint, or names a resource that does not exist."""

    status = 400


class ResourceNotFound(AWSError):
    """The named resource does not exist (most SageMaker operations use ValidationException)."""

    status = 400
    modeled = True


class ResourceInUse(AWSError):
    """The resource is being used by another resource or is in a state that forbids the call."""

    status = 400
    modeled = True


class ResourceLimitExceeded(AWSError):
    """A request would go past one of the account's service quotas (tuning job limits)."""

    status = 400
    modeled = True


class ConflictException(AWSError):
    """The resource is in a state that conflicts with the request (pipeline executions)."""

    status = 400
    modeled = True


# ---- runtime (`sagemaker-runtime`, REST-JSON) -------------------------------------------


class ValidationError(AWSError):
    """The runtime's validation error: bad parameter, unknown endpoint, endpoint not ready."""

    status = 400
    modeled = True


class ModelError(AWSError):
    """The model container answered with an error, or did not answer in time (HTTP 424)."""

    status = 424
    modeled = True

    def __init__(
        self,
        message: str,
        *,
        original_status_code: int | None = None,
        original_message: str | None = None,
        log_stream_arn: str | None = None,
        error_code: str | None = None,
    ) -> None:
        super().__init__(
            message,
            OriginalStatusCode=original_status_code,
            OriginalMessage=original_message,
            LogStreamArn=log_stream_arn,
            ErrorCode=error_code,  # in real bodies although not in the model
        )


class ThrottlingException(AWSError):
    """Too many requests in flight: a serverless variant above its MaxConcurrency. Not in the
    runtime's model; SageMaker answers it with HTTP 400 (botocore retries it as throttling)."""

    status = 400


class ServiceUnavailable(AWSError):
    """The service is unavailable; try again."""

    status = 503
    modeled = True


def validation_error_class(service_model: Any) -> type[AWSError]:
    """The error a service answers for constraint failures, as its model names it."""
    if service_model.shape_for_error_code("ValidationError") is not None:
        return ValidationError
    return ValidationException
