"""What each step type does: its jobs, models and packages are made by calling the control
plane's own operations (CreateProcessingJob, CreateTrainingJob, CreateTransformJob,
CreateModel, CreateModelPackage), as SageMaker Pipelines calls the SageMaker API; the job
steps then follow their job's Describe until it ends.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from smlocal.emulator.errors import AWSError
from smlocal.emulator.jobs.pipelines.expressions import Scope, StepFailed, holds, resolve
from smlocal.emulator.jobs.pipelines.plan import StepSpec
from smlocal.emulator.support.entity_names import experiment_entity_names
from smlocal.emulator.support.records import Nested

# The start of a job's FailureReason -> the retry policies' name for that failure.
JOB_FAILURES = {
    "InternalServerError": "SageMaker.JOB_INTERNAL_ERROR",
    "CapacityError": "SageMaker.CAPACITY_ERROR",
    "ResourceLimitExceeded": "SageMaker.RESOURCE_LIMIT",
}


# The control plane's operations, called by name as a client calls them (AWSError: refused).
ControlCalls = Callable[[str, dict[str, Any]], dict[str, Any]]


class StepStopped(Exception):
    """StopPipelineExecution stopped the step."""


@dataclass
class StepWork:
    """What a step's run works with."""

    spec: StepSpec
    call: ControlCalls
    scope: Scope
    resource_name: str  # the name of the job or model the step makes
    stopping: threading.Event
    note: Callable[[Nested], None]  # record the step's Metadata as soon as it is known
    poll: float = 0.2
    experiment: Nested | None = None  # the execution's PipelineExperimentConfig, resolved


@dataclass
class StepResult:
    """What a succeeded step leaves: its Metadata and its properties."""

    metadata: Nested
    properties: Nested


@dataclass(frozen=True)
class JobKind:
    """The operations and members of one kind of job."""

    metadata: str  # "ProcessingJob": the Metadata member
    noun: str  # "ProcessingJob": in the operation names and the request's members


PROCESSING = JobKind("ProcessingJob", "ProcessingJob")
TRAINING = JobKind("TrainingJob", "TrainingJob")
TRANSFORM = JobKind("TransformJob", "TransformJob")


def call(work: StepWork, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """A control-plane call of a step; a refusal fails the step (a server fault or a
    throttle as the retry policies' Step.SERVICE_FAULT / Step.THROTTLING)."""
    try:
        return work.call(operation, params)
    except AWSError as exc:
        raise _step_failed(exc) from None


def _step_failed(exc: AWSError) -> StepFailed:
    """The step's failure for a refused call."""
    kind = "Step.THROTTLING" if "Throttl" in exc.code else None
    if exc.status >= 500:
        kind = "Step.SERVICE_FAULT"
    return StepFailed(f"{exc.code}: {exc.message}", kind)


def _create_joining(work: StepWork, kind: JobKind, request: dict[str, Any]) -> dict[str, Any]:
    """Create a job that joins the execution's experiment; if that is refused (its trial
    belongs to another experiment, or was deleted since the start), the job joins nothing
    rather than failing a step that would otherwise run (the job is refused before it is
    stored, so asking again makes no second one)."""
    try:
        return work.call(f"Create{kind.noun}", request)
    except AWSError as exc:
        failure = _step_failed(exc)
        if failure.kind is not None:  # a fault or a throttle: the retry policies' business
            raise failure from None
    alone = {k: v for k, v in request.items() if k != "ExperimentConfig"}
    return call(work, f"Create{kind.noun}", alone)


def named(work: StepWork, prefix: Any) -> str:
    """The name of what the step makes: Pipelines' own, or the prefix the definition keeps
    (the SDK's `use_custom_job_prefix`) with the same unique ending."""
    if not prefix:
        return work.resource_name
    return f"{str(prefix)[:52]}-{work.resource_name.rsplit('-', 1)[1]}"


# How long a stopping step follows its job after asking it to stop: jobs end within their own
# grace (10 s for training and processing, 30 s for transform), so this only bounds a job
# that never ends, which would otherwise hold smlocal's shutdown for ever.
STOP_GRACE = 90.0


def run_job(work: StepWork, kind: JobKind, arguments: dict[str, Any]) -> dict[str, Any]:
    """Create the job, follow it until it ends; its Describe output when it Completed."""
    name_key = f"{kind.noun}Name"
    work.resource_name = named(work, arguments.get(name_key))
    request = {**arguments, name_key: work.resource_name}
    joins = work.experiment and experiment_entity_names(work.experiment)
    if (
        joins and work.experiment and "ExperimentConfig" not in request
    ):  # the job joins the execution's
        request["ExperimentConfig"] = dict(work.experiment)  # trial, as on SageMaker
        created = _create_joining(work, kind, request)
    else:
        created = call(work, f"Create{kind.noun}", request)
    work.note({kind.metadata: {"Arn": created[f"{kind.noun}Arn"]}})
    given_up_at: float | None = None  # once the step is stopping: when to stop following
    while True:
        described = call(work, f"Describe{kind.noun}", {name_key: work.resource_name})
        status = described[f"{kind.noun}Status"]
        if status in ("Completed", "Failed", "Stopped"):
            break
        if work.stopping.is_set() and given_up_at is None:
            given_up_at = time.monotonic() + STOP_GRACE
            call(work, f"Stop{kind.noun}", {name_key: work.resource_name})
        elif given_up_at is not None and time.monotonic() > given_up_at:
            raise StepStopped()  # the job ends on its own; smlocal's shutdown waits no longer
        time.sleep(work.poll)
    if status == "Stopped" and work.stopping.is_set():
        raise StepStopped()
    if status == "Stopped":  # by StopXJob, or smlocal stopping: the step did not succeed
        raise StepFailed(f"{kind.noun} {work.resource_name} was stopped outside the pipeline.")
    if status == "Failed":
        reason = str(described.get("FailureReason") or f"The {kind.noun} failed.")
        raise StepFailed(reason, JOB_FAILURES.get(reason.split(":", 1)[0]))
    return described


def processing(work: StepWork, arguments: Any) -> StepResult:
    """A Processing step: one processing job."""
    described = run_job(work, PROCESSING, arguments)
    return StepResult({"ProcessingJob": {"Arn": described["ProcessingJobArn"]}}, described)


def training(work: StepWork, arguments: Any) -> StepResult:
    """A Training step: one training job."""
    described = run_job(work, TRAINING, arguments)
    return StepResult({"TrainingJob": {"Arn": described["TrainingJobArn"]}}, described)


def transform(work: StepWork, arguments: Any) -> StepResult:
    """A Transform step: one batch transform job."""
    described = run_job(work, TRANSFORM, arguments)
    return StepResult({"TransformJob": {"Arn": described["TransformJobArn"]}}, described)


def model(work: StepWork, arguments: Any) -> StepResult:
    """A Model (CreateModel) step: one model."""
    work.resource_name = named(work, arguments.get("ModelName"))
    call(work, "CreateModel", {**arguments, "ModelName": work.resource_name})
    described = call(work, "DescribeModel", {"ModelName": work.resource_name})
    return StepResult({"Model": {"Arn": described["ModelArn"]}}, described)


def register_model(work: StepWork, arguments: Any) -> StepResult:
    """A RegisterModel step: a model package, in its group (made first if missing)."""
    group = arguments.get("ModelPackageGroupName")
    if group:
        try:
            work.call("DescribeModelPackageGroup", {"ModelPackageGroupName": group})
        except AWSError:
            call(work, "CreateModelPackageGroup", {"ModelPackageGroupName": group})
    arn = call(work, "CreateModelPackage", arguments)["ModelPackageArn"]
    described = call(work, "DescribeModelPackage", {"ModelPackageName": arn})
    return StepResult({"RegisterModel": {"Arn": arn}}, described)


def condition(work: StepWork, arguments: Any) -> StepResult:
    """A Condition step: True when every condition holds (its IfSteps run, else ElseSteps)."""
    outcome = all(holds(c, work.scope) for c in work.spec.arguments.get("Conditions", []))
    text = "True" if outcome else "False"
    return StepResult({"Condition": {"Outcome": text}}, {"Outcome": text})


def fail(work: StepWork, arguments: Any) -> StepResult:
    """A Fail step: the execution fails with its ErrorMessage."""
    message = str(arguments.get("ErrorMessage", ""))
    work.note({"Fail": {"ErrorMessage": message}})
    raise StepFailed(message)


Handler = Callable[[StepWork, Any], StepResult]


def arguments_of(spec: StepSpec, scope: Scope) -> Any:
    """A step's arguments with their expressions resolved (a Condition step's are read as
    it runs, its branches are steps of their own)."""
    if spec.type == "Condition":
        return {}
    return resolve(spec.arguments, scope)


HANDLERS: dict[str, Handler] = {
    "Processing": processing,
    "Training": training,
    "Transform": transform,
    "Model": model,
    "RegisterModel": register_model,
    "Condition": condition,
    "Fail": fail,
}
