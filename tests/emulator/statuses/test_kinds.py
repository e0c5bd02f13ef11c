"""Each resource kind's status table: AWS's names, reachable statuses, ends, refusals."""

from __future__ import annotations

import botocore.session
import pytest

from smlocal.emulator.errors import ValidationException
from smlocal.emulator.statuses.endpoints import ENDPOINT, RESTORED_ENDPOINT
from smlocal.emulator.statuses.machine import StatusMachine
from smlocal.emulator.statuses.monitoring import MONITORING_EXECUTION, MONITORING_SCHEDULE
from smlocal.emulator.statuses.processing_jobs import PROCESSING_JOB
from smlocal.emulator.statuses.training_jobs import MESSAGES, PRIMARY, TRAINING_JOB
from smlocal.emulator.statuses.transform_jobs import TRANSFORM_JOB

# (machine, the service model's enum shape of its statuses, the statuses it ends in)
KINDS = pytest.mark.parametrize(
    ("machine", "shape", "ends"),
    [
        (ENDPOINT, "EndpointStatus", frozenset({"Deleting"})),
        (
            TRAINING_JOB,
            "SecondaryStatus",
            frozenset({"Completed", "Failed", "Stopped", "MaxRuntimeExceeded"}),
        ),
        (PROCESSING_JOB, "ProcessingJobStatus", frozenset({"Completed", "Failed", "Stopped"})),
        (TRANSFORM_JOB, "TransformJobStatus", frozenset({"Completed", "Failed", "Stopped"})),
        (MONITORING_SCHEDULE, "ScheduleStatus", frozenset()),
        (
            MONITORING_EXECUTION,
            "ExecutionStatus",
            frozenset({"Completed", "CompletedWithViolations", "Failed", "Stopped"}),
        ),
    ],
    ids=["endpoint", "training job", "processing job", "transform job", "schedule", "execution"],
)


def reachable(machine: StatusMachine, start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for target in machine.moves[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


def enum(shape: str) -> set[str]:
    model = botocore.session.get_session().get_service_model("sagemaker")
    return set(model.shape_for(shape).enum)


@KINDS
def test_every_status_is_one_aws_names(machine: StatusMachine, shape: str, ends: object) -> None:
    assert machine.statuses <= enum(shape)


@KINDS
def test_every_status_is_reachable_from_the_first(
    machine: StatusMachine, shape: str, ends: object
) -> None:
    assert machine.first is not None
    assert reachable(machine, machine.first) == machine.statuses


@KINDS
def test_the_ends_are_the_statuses_with_no_way_out(
    machine: StatusMachine, shape: str, ends: frozenset[str]
) -> None:
    assert machine.terminal == ends


@KINDS
def test_every_status_can_still_reach_an_end(
    machine: StatusMachine, shape: str, ends: object
) -> None:
    if not machine.terminal:  # a monitoring schedule: only deleting it ends it
        return
    stuck = [s for s in machine.statuses if not reachable(machine, s) & machine.terminal]
    assert stuck == []


def test_an_endpoint_refuses_updates_and_deletes_as_aws_words_it() -> None:
    arn = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/e"
    ENDPOINT.require("UpdateEndpoint", "InService", arn)
    ENDPOINT.require("DeleteEndpoint", "Failed", arn)
    refusals = [
        ("UpdateEndpoint", "Creating", f'Cannot update in-progress endpoint "{arn}".'),
        ("DeleteEndpoint", "Deleting", f'Cannot delete in-progress endpoint "{arn}".'),
        (
            "UpdateEndpointWeightsAndCapacities",
            "Failed",
            f'Cannot update endpoint "{arn}" in status Failed; delete it and create it again.',
        ),
    ]
    for operation, status, message in refusals:
        with pytest.raises(ValidationException) as caught:
            ENDPOINT.require(operation, status, arn)
        assert caught.value.message == message


def test_a_restored_endpoint_is_written_again_or_ends_in_service_or_failed() -> None:
    assert RESTORED_ENDPOINT.statuses <= ENDPOINT.statuses
    for status, targets in RESTORED_ENDPOINT.moves.items():
        if status == "Failed":
            assert targets == frozenset()  # where a restore ends, not one it starts from
            continue
        assert status in targets
        assert targets <= {status, "InService", "Failed"}


def test_training_statuses_each_have_a_primary_status_and_a_message() -> None:
    assert set(PRIMARY) == set(MESSAGES) == TRAINING_JOB.statuses
    assert set(PRIMARY.values()) <= enum("TrainingJobStatus")
    in_progress = {s for s, primary in PRIMARY.items() if primary == "InProgress"}
    assert TRAINING_JOB.accepts["StopTrainingJob"] == in_progress
    with pytest.raises(ValidationException) as caught:
        TRAINING_JOB.require("StopTrainingJob", "MaxRuntimeExceeded", "job")
    assert caught.value.message == (
        "The request was rejected because the training job is in status Stopped."
    )


def test_a_processing_job_is_stopped_only_in_progress() -> None:
    PROCESSING_JOB.require("StopProcessingJob", "InProgress", "job")
    with pytest.raises(ValidationException) as caught:
        PROCESSING_JOB.require("StopProcessingJob", "Stopping", "job")
    assert caught.value.message == (
        "The processing job job is Stopping; only a job in progress can be stopped."
    )


def test_a_monitoring_schedule_moves_anywhere_but_is_not_deleted_while_pending() -> None:
    for status in MONITORING_SCHEDULE.statuses:
        assert MONITORING_SCHEDULE.moves[status] == MONITORING_SCHEDULE.statuses
    MONITORING_SCHEDULE.require("DeleteMonitoringSchedule", "Stopped", "s")
    with pytest.raises(ValidationException) as caught:
        MONITORING_SCHEDULE.require("DeleteMonitoringSchedule", "Pending", "s")
    assert caught.value.message == "Monitoring schedule in status Pending"
