"""A hyperparameter tuning job's record, and the summaries of its training jobs.

Both sides use it: the control plane (Create/Describe/List/Stop/Delete, and
ListTrainingJobsForHyperParameterTuningJob) and the tuner (`tuner.py`), which launches the
training jobs, follows them and saves the counters and the best job back. The stored
document is the DescribeHyperParameterTuningJob output plus one private member,
`_TrainingJobs`: each launched training job's name, ARN, creation time, tuned
hyperparameters and the point of the search it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict

from smlocal.emulator.jobs.training.records import KIND as TRAINING_KIND
from smlocal.emulator.jobs.training.records import TrainingJob
from smlocal.emulator.statuses.tuning_jobs import ENDED, TUNING_JOB
from smlocal.emulator.support.records import Document, Nested, shown
from smlocal.emulator.support.state import State

KIND = "hyper-parameter-tuning-job"
OBJECTIVE = "_tuning_objective_metric"  # the static hyperparameter SageMaker adds


class Child(TypedDict):
    """One training job the tuning job launched."""

    TrainingJobName: str
    TrainingJobArn: str
    CreationTime: float
    TunedHyperParameters: dict[str, str]
    Point: list[float]


@dataclass
class TuningJob:
    """A hyperparameter tuning job as CreateHyperParameterTuningJob recorded it."""

    name: str
    arn: str
    config: dict[str, Any]  # HyperParameterTuningJobConfig
    status: str
    creation_time: float
    last_modified_time: float
    definition: dict[str, Any] | None = None  # TrainingJobDefinition
    definitions: list[Nested] | None = None  # TrainingJobDefinitions
    warm_start: dict[str, Any] | None = None
    end_time: float | None = None
    failure_reason: str | None = None
    children: list[Child] = field(default_factory=list)
    status_counters: Nested = field(default_factory=dict)
    objective_counters: Nested = field(default_factory=dict)
    best: dict[str, Any] | None = None
    overall_best: dict[str, Any] | None = None  # with a warm start: the parents' jobs too

    @property
    def key(self) -> str:
        """Its store key."""
        return self.name

    @property
    def objective(self) -> dict[str, Any]:
        """HyperParameterTuningJobObjective (Type, MetricName)."""
        found: dict[str, Any] = self.config.get("HyperParameterTuningJobObjective") or {}
        return found

    @property
    def limits(self) -> dict[str, Any]:
        """ResourceLimits."""
        limits: dict[str, Any] = self.config["ResourceLimits"]
        return limits

    @classmethod
    def from_document(cls, doc: Document) -> TuningJob:
        """The tuning job of a stored document."""
        return cls(
            name=doc["HyperParameterTuningJobName"],
            arn=doc["HyperParameterTuningJobArn"],
            config=doc["HyperParameterTuningJobConfig"],
            status=doc["HyperParameterTuningJobStatus"],
            creation_time=doc["CreationTime"],
            last_modified_time=doc["LastModifiedTime"],
            definition=doc.get("TrainingJobDefinition"),
            definitions=doc.get("TrainingJobDefinitions"),
            warm_start=doc.get("WarmStartConfig"),
            end_time=doc.get("HyperParameterTuningEndTime"),
            failure_reason=doc.get("FailureReason"),
            children=doc.get("_TrainingJobs", []),
            status_counters=doc.get("TrainingJobStatusCounters", {}),
            objective_counters=doc.get("ObjectiveStatusCounters", {}),
            best=doc.get("BestTrainingJob"),
            overall_best=doc.get("OverallBestTrainingJob"),
        )

    def to_document(self) -> Document:
        """The stored document."""
        return {**self.describe(), "_TrainingJobs": self.children}

    def describe(self) -> dict[str, object]:
        """DescribeHyperParameterTuningJob's output."""
        return shown(
            (
                ("HyperParameterTuningJobName", self.name),
                ("HyperParameterTuningJobArn", self.arn),
                ("HyperParameterTuningJobConfig", self.config),
                ("TrainingJobDefinition", self.definition),
                ("TrainingJobDefinitions", self.definitions),
                ("HyperParameterTuningJobStatus", self.status),
                ("CreationTime", self.creation_time),
                ("HyperParameterTuningEndTime", self.end_time),
                ("LastModifiedTime", self.last_modified_time),
                ("TrainingJobStatusCounters", counters(self.status_counters, STATUS_COUNTERS)),
                ("ObjectiveStatusCounters", counters(self.objective_counters, OBJECTIVE_COUNTERS)),
                ("BestTrainingJob", self.best),
                ("OverallBestTrainingJob", self.overall_best),
                ("WarmStartConfig", self.warm_start),
                ("FailureReason", self.failure_reason),
                ("ConsumedResources", self._consumed()),
            )
        )

    def summary(self) -> dict[str, object]:
        """ListHyperParameterTuningJobs' item."""
        return shown(
            (
                ("HyperParameterTuningJobName", self.name),
                ("HyperParameterTuningJobArn", self.arn),
                ("HyperParameterTuningJobStatus", self.status),
                ("Strategy", self.config["Strategy"]),
                ("CreationTime", self.creation_time),
                ("HyperParameterTuningEndTime", self.end_time),
                ("LastModifiedTime", self.last_modified_time),
                ("TrainingJobStatusCounters", counters(self.status_counters, STATUS_COUNTERS)),
                ("ObjectiveStatusCounters", counters(self.objective_counters, OBJECTIVE_COUNTERS)),
                ("ResourceLimits", self.limits),
            )
        )

    def _consumed(self) -> Nested | None:
        if self.end_time is None:
            return None
        return {"RuntimeInSeconds": int(self.end_time - self.creation_time)}

    def move(self, status: str, now: float, reason: str | None = None) -> None:
        """Move to a status its table allows (an ended job gets its end time)."""
        TUNING_JOB.check(self.status, status)
        self.status = status
        self.last_modified_time = now
        if status in ENDED:
            self.end_time = now
        if reason is not None:
            self.failure_reason = reason[:1024]


STATUS_COUNTERS = ("Completed", "InProgress", "RetryableError", "NonRetryableError", "Stopped")
OBJECTIVE_COUNTERS = ("Succeeded", "Pending", "Failed")


def counters(values: Nested, names: tuple[str, ...]) -> dict[str, int]:
    """A counters member with every counter present (0 when none counted)."""
    return {name: int(str(values.get(name, 0))) for name in names}


def training_job(state: State, child: Child) -> TrainingJob | None:
    """The training job record of a child (None if it is gone)."""
    doc = state.store.get(TRAINING_KIND, child["TrainingJobName"])
    return None if doc is None else TrainingJob.from_document(doc)


def objective_value(job: TrainingJob | None, metric: str) -> float | None:
    """The objective's final value the training job reported, or None."""
    for entry in (job.final_metric_data_list if job else None) or []:
        if entry["MetricName"] == metric:
            return float(entry["Value"])
    return None


def objective_status(job: TrainingJob | None, metric: str) -> str:
    """Succeeded (the objective was reported), Pending (still running) or Failed."""
    if job is not None and job.status in ("InProgress", "Stopping"):
        return "Pending"
    return "Succeeded" if objective_value(job, metric) is not None else "Failed"


def child_summary(tuning: TuningJob, child: Child, job: TrainingJob | None) -> dict[str, object]:
    """A HyperParameterTrainingJobSummary of one of the tuning job's training jobs."""
    metric = str(tuning.objective.get("MetricName", ""))
    value = objective_value(job, metric)
    final = None
    if value is not None:
        final = {"Type": tuning.objective.get("Type"), "MetricName": metric, "Value": value}
    return shown(
        (
            ("TrainingJobName", child["TrainingJobName"]),
            ("TrainingJobArn", child["TrainingJobArn"]),
            ("TuningJobName", tuning.name),
            ("CreationTime", child["CreationTime"]),
            ("TrainingStartTime", job.training_start_time if job else None),
            ("TrainingEndTime", job.training_end_time if job else None),
            ("TrainingJobStatus", job.status if job else "Failed"),
            ("TunedHyperParameters", child["TunedHyperParameters"]),
            ("FailureReason", job.failure_reason if job else None),
            ("FinalHyperParameterTuningJobObjectiveMetric", final),
            ("ObjectiveStatus", objective_status(job, metric)),
        )
    )


def status_counter(job: TrainingJob | None) -> str:
    """The TrainingJobStatusCounters entry a training job counts in."""
    if job is None:
        return "NonRetryableError"
    if job.status in ("InProgress", "Stopping"):
        return "InProgress"
    if job.status == "Failed":
        internal = (job.failure_reason or "").startswith("InternalServerError")
        return "RetryableError" if internal else "NonRetryableError"
    return job.status  # Completed, Stopped
