"""Request validation driven by the botocore service models, worded the way AWS words it.

Two passes, like AWS's request pipeline: a type check first (a value of the wrong JSON
type is a `SerializationException` with Coral's message, and only the first one is
reported), then every constraint of the model: required members, string/blob/list/map
lengths, numeric ranges, enums and patterns. Constraint failures are joined into one
`ValidationException` (the runtime: `ValidationError`), at most ten of them. Both passes
are capture_sink's `aws_shapes`, which a model server also validates its DataCaptureConfig
with; this module adds the emulator's errors and smlocal's one extension of the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smlocal.capture_sink.aws_shapes.constraints import (
    Rules,
    constraint_failures,
    validation_message,
)
from smlocal.capture_sink.aws_shapes.type_checks import first_type_problem
from smlocal.emulator.errors import SerializationException, validation_error_class

# smlocal's one extension of the API: model data may be a local path (or file:// URL) on
# the emulator's machine, as well as an s3:// or https:// URL.
LOCAL_PATH_MEMBERS = frozenset(
    {("ContainerDefinition", "ModelDataUrl"), ("ModelPackageContainerDefinition", "ModelDataUrl")}
)


def _local_model_data(structure: str, member: str, value: Any) -> bool:
    return (structure, member) in LOCAL_PATH_MEMBERS and str(value).startswith(("/", "file://"))


def validate(service_model: Any, operation_name: str, params: Mapping[str, Any]) -> None:
    """Raise ValidationException (runtime: ValidationError) or SerializationException."""
    shape = service_model.operation_model(operation_name).input_shape
    if shape is None:
        return
    problem = first_type_problem(shape, params)
    if problem is not None:
        raise SerializationException(problem)
    rules = Rules.of(service_model.service_name, allow=_local_model_data)
    failures = list(constraint_failures(shape, params, "", rules))
    if failures:
        raise validation_error_class(service_model)(validation_message(failures))
