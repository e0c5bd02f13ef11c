"""Runs hyperparameter tuning jobs: each in a thread of its own, launching training jobs
through the control plane's own CreateTrainingJob (as SageMaker's tuner calls the
SageMaker API), at most MaxParallelTrainingJobs at once and MaxNumberOfTrainingJobs in
all, each with the static hyperparameters and a point the strategy (`strategies.py`)
chose. The training manager runs them as it runs any training job; the tuner follows
their records, reads the objective from each one's FinalMetricDataList, and keeps the
counters and the best training job in the tuning job's record. With a warm start, the
parents' results count as earlier results of the search (when their values lie in this
job's ranges), and OverallBestTrainingJob is the best of theirs and this job's.

The tuning job ends Completed when its last training job ends (or, with
TuningJobCompletionCriteria.TargetObjectiveMetricValue, once a job reached the target and
the running ones ended); Failed, in SageMaker's words, when its first training jobs (five,
or all when fewer are asked for) all failed; Stopped after StopHyperParameterTuningJob,
which stops its running training jobs. Past MaxRuntimeInSeconds its running training jobs
are stopped and it ends Completed. Tuning jobs do not outlive the emulator: one still
running when smlocal stops (or is killed) ends Failed at the next start, saying so, once the
training manager has ended its training jobs (so its counters are final).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from smlocal.emulator.errors import AWSError
from smlocal.emulator.jobs.training.records import KIND as TRAINING_KIND
from smlocal.emulator.jobs.training.records import TrainingJob
from smlocal.emulator.jobs.tuning.ranges import Range, parse_ranges
from smlocal.emulator.jobs.tuning.records import (
    KIND,
    Child,
    TuningJob,
    child_summary,
    objective_status,
    objective_value,
    status_counter,
    training_job,
)
from smlocal.emulator.jobs.tuning.strategies import Observation, Sampler, grid, seed_of
from smlocal.emulator.support.state import State

log = logging.getLogger(__name__)
ControlCalls = Callable[[str, dict[str, Any]], dict[str, Any]]
FAIL_AFTER = 5  # SageMaker fails a tuning job whose first five training jobs all failed
NO_SUCCESS = (
    "No training job succeeded after {count} attempts. Please take a look at the training "
    "job failures to get more details."
)
RESTARTED = (
    "InternalServerError: smlocal stopped while this hyperparameter tuning job was running; "
    "tuning jobs do not survive a restart. Create it again, with a new name."
)
ACTIVE = ("InProgress", "Stopping")  # a training job's statuses before it ends
COPIED = ("InputDataConfig", "VpcConfig", "EnableNetworkIsolation", "CheckpointConfig",
          "EnableInterContainerTrafficEncryption", "EnableManagedSpotTraining",
          "RetryStrategy", "Environment")  # fmt: skip


def load(state: State, name: str) -> TuningJob:
    """A stored tuning job."""
    doc = state.store.get(KIND, name)
    assert doc is not None, name
    return TuningJob.from_document(doc)


def job_count(job: TuningJob, ranges: list[Range]) -> int:
    """How many training jobs the tuning job runs at most (Grid: at most its grid)."""
    limit = job.limits.get("MaxNumberOfTrainingJobs")
    if job.config["Strategy"] == "Grid":
        size = len(grid(ranges))
        return size if limit is None else min(size, int(limit))
    return int(limit or 1)


def child_request(job: TuningJob, child: str, tuned: dict[str, str]) -> dict[str, Any]:
    """The CreateTrainingJob request of one of the tuning job's training jobs."""
    definition: dict[str, Any] = job.definition or {}
    spec = definition["AlgorithmSpecification"]
    kept = ("TrainingImage", "AlgorithmName", "TrainingInputMode", "MetricDefinitions")
    request = {
        "TrainingJobName": child,
        "AlgorithmSpecification": {key: spec[key] for key in kept if key in spec},
        "RoleArn": definition["RoleArn"],
        "OutputDataConfig": definition["OutputDataConfig"],
        "ResourceConfig": definition.get("ResourceConfig")
        or _resources(definition.get("HyperParameterTuningResourceConfig") or {}),
        "StoppingCondition": definition["StoppingCondition"],
        "HyperParameters": {**definition.get("StaticHyperParameters", {}), **tuned},
    }
    request.update({key: definition[key] for key in COPIED if key in definition})
    return request


def _resources(config: dict[str, Any]) -> dict[str, Any]:
    """HyperParameterTuningResourceConfig as a training job's ResourceConfig (its first
    instance configuration when it lists several)."""
    first = (config.get("InstanceConfigs") or [config])[0]
    return {"InstanceType": first.get("InstanceType", "ml.m5.large"),
            "InstanceCount": first.get("InstanceCount", 1),
            "VolumeSizeInGB": first.get("VolumeSizeInGB", 30)}  # fmt: skip


Result = tuple[TuningJob, Child, TrainingJob | None]  # a training job of a tuning job


def refresh(state: State, name: str) -> tuple[TuningJob, list[TrainingJob | None]]:
    """The tuning job with its counters and best training job brought up to date from its
    training jobs' records (saved when they changed), and those records."""
    with state.store.transaction():
        job = load(state, name)
        records = [training_job(state, child) for child in job.children]
        before = job.to_document()
        metric = str(job.objective.get("MetricName", ""))
        job.status_counters = dict(Counter(status_counter(r) for r in records))
        job.objective_counters = dict(Counter(objective_status(r, metric) for r in records))
        own = [(job, child, record) for child, record in zip(job.children, records, strict=True)]
        job.best = _best(job, own)
        if job.warm_start:
            job.overall_best = _best(job, parent_results(state, job) + own)
        if job.to_document() != before:
            job.last_modified_time = state.now()
            state.store.put(KIND, job.key, job.to_document())
    return job, records


def parent_results(state: State, job: TuningJob) -> list[Result]:
    """The training jobs of a warm start's parent tuning jobs."""
    found: list[Result] = []
    parents = (job.warm_start or {}).get("ParentHyperParameterTuningJobs", [])
    for parent in parents:
        doc = state.store.get(KIND, parent["HyperParameterTuningJobName"])
        if doc is not None:
            owner = TuningJob.from_document(doc)
            found += [(owner, child, training_job(state, child)) for child in owner.children]
    return found


def _best(job: TuningJob, results: list[Result]) -> Any:
    """The summary of the Completed training job with the best objective, or None."""
    metric = str(job.objective.get("MetricName", ""))
    maximize = job.objective.get("Type") != "Minimize"
    best: tuple[float, Result] | None = None
    for result in results:
        record = result[2]
        value = objective_value(record, metric)
        if record is None or record.status != "Completed" or value is None:
            continue
        if best is None or (value > best[0] if maximize else value < best[0]):
            best = (value, result)
    return None if best is None else child_summary(*best[1])


class Tuner:
    """Runs tuning jobs in the background; the control plane's `tuning` manager."""

    def __init__(self, state: State, call: ControlCalls, poll: float = 0.2) -> None:
        self.state = state
        self.call = call
        self.poll = poll
        self.lock = threading.Lock()
        self.running: dict[str, tuple[threading.Thread, threading.Event]] = {}
        self.closing = False

    def start(self, name: str) -> None:
        """Run a stored InProgress tuning job in the background."""
        wake = threading.Event()
        thread = threading.Thread(target=self._run, args=(name, wake), daemon=True,
                                  name=f"tuning-{name}")  # fmt: skip
        with self.lock:
            self.running[name.lower()] = (thread, wake)
        thread.start()

    def stop(self, name: str) -> None:
        """Wake a Stopping tuning job's thread: it stops its training jobs."""
        with self.lock:
            found = self.running.get(name.lower())
        if found is not None:
            found[1].set()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the running tuning jobs' threads (tests, shutdown)."""
        with self.lock:
            threads = [thread for thread, _ in self.running.values()]
        for thread in threads:
            thread.join(timeout)

    def shutdown(self, timeout: float = 10.0) -> None:
        """smlocal is stopping: no tuning job launches or records anything more. They end
        at the next start (`abandon_unfinished`), once the training manager has ended their
        training jobs, so that their counters are final."""
        self.closing = True
        with self.lock:
            for _, wake in self.running.values():
                wake.set()
        self.wait(timeout)

    def abandon_unfinished(self) -> None:
        """Tuning jobs still running (at start-up: when smlocal stopped) end now."""
        for doc in self.state.store.all(KIND):
            if doc["HyperParameterTuningJobStatus"] not in ("InProgress", "Stopping"):
                continue
            name = doc["HyperParameterTuningJobName"]
            with self.state.store.transaction():
                job, _ = refresh(self.state, name)
                if job.status == "Stopping":
                    job.move("Stopped", self.state.now())
                else:
                    job.move("Failed", self.state.now(), RESTARTED)
                self.state.store.put(KIND, job.key, job.to_document())
            log.info("tuning job %s ended %s: smlocal stopped", name, job.status)

    def end(self, name: str, status: str, reason: str | None = None) -> bool:
        """End a tuning job still running; False if it had already ended."""
        with self.state.store.transaction():
            job, _ = refresh(self.state, name)
            if job.status not in ("InProgress", "Stopping"):
                return False
            job.move(status, self.state.now(), reason)
            self.state.store.put(KIND, job.key, job.to_document())
        return True

    def _run(self, name: str, wake: threading.Event) -> None:
        try:
            TuningRun(self, name, wake).run()
        except Exception as exc:
            log.exception("tuning job %s failed", name)
            self.end(name, "Failed", f"InternalServerError: smlocal could not run it: {exc}")
        finally:
            with self.lock:
                self.running.pop(name.lower(), None)


class TuningRun:
    """One tuning job's run: launch, follow, end."""

    def __init__(self, tuner: Tuner, name: str, wake: threading.Event) -> None:
        self.tuner = tuner
        self.state = tuner.state
        self.name = name
        self.wake = wake
        job = load(self.state, name)
        self.ranges = parse_ranges(
            (job.definition or {}).get("HyperParameterRanges") or job.config.get("ParameterRanges")
        )
        maximize = job.objective.get("Type") != "Minimize"
        seed = seed_of(name, job.config.get("RandomSeed"))
        self.sampler = Sampler(str(job.config["Strategy"]), self.ranges, seed, maximize)
        self.total = job_count(job, self.ranges)
        self.parallel = int(job.limits["MaxParallelTrainingJobs"])
        runtime = job.limits.get("MaxRuntimeInSeconds")
        self.deadline = None if runtime is None else job.creation_time + float(runtime)
        criteria: dict[str, Any] = job.config.get("TuningJobCompletionCriteria") or {}
        self.target = criteria.get("TargetObjectiveMetricValue")
        self.maximize = maximize
        self.warm = self._warm_history(job)

    def _warm_history(self, job: TuningJob) -> list[Observation]:
        """A warm start's parents' results, as points of this job's ranges (those of a
        parent that searched other ranges are left out)."""
        metric = str(job.objective.get("MetricName", ""))
        history = []
        for owner, child, record in parent_results(self.state, job):
            values = {**(owner.definition or {}).get("StaticHyperParameters", {}),
                      **child["TunedHyperParameters"]}  # fmt: skip
            point = [r.unit(values[r.name]) if r.name in values else None for r in self.ranges]
            if all(p is not None for p in point):
                history.append(Observation(tuple(p or 0.0 for p in point),
                                           objective_value(record, metric)))  # fmt: skip
        return history

    def run(self) -> None:
        """Launch and follow training jobs until the tuning job ends."""
        while True:
            if self.tuner.closing:
                return  # smlocal is stopping: the job ends at the next start
            job, records = refresh(self.state, self.name)
            if job.status not in ("InProgress", "Stopping"):
                return
            outcome = self._step(job, records)
            if outcome == "ended":
                return
            if outcome == "wait":
                self.wake.wait(self.tuner.poll)
                self.wake.clear()

    def _step(self, job: TuningJob, records: list[TrainingJob | None]) -> str:
        """One look at the training jobs: "launched" one, "ended" the tuning job, or "wait"."""
        running = [r for r in records if r is not None and r.status in ACTIVE]
        ended = len(records) - len(running)
        if job.status == "Stopping" or self._past_deadline():
            self._stop_children(running)
            return (
                "wait"
                if running
                else self._end("Stopped" if job.status == "Stopping" else "Completed")
            )
        if self._all_failed(records, ended):
            return "wait" if running else self._end("Failed", NO_SUCCESS.format(count=ended))
        more = len(records) < self.total and not self._reached(job)
        if more and len(running) < self.parallel:
            return "launched" if self._launch(job, records) else "ended"
        if running or more:
            return "wait"
        if any(r is not None and r.status == "Completed" for r in records):
            return self._end("Completed")
        return self._end("Failed", NO_SUCCESS.format(count=len(records)))

    def _end(self, status: str, reason: str | None = None) -> str:
        self.tuner.end(self.name, status, reason)
        return "ended"

    def _past_deadline(self) -> bool:
        return self.deadline is not None and self.state.now() >= self.deadline

    def _all_failed(self, records: list[TrainingJob | None], ended: int) -> bool:
        """No training job succeeded and the first ones (five, or all) have ended: no more
        start (one still running may yet succeed)."""
        if any(r is not None and r.status == "Completed" for r in records):
            return False
        return ended >= min(FAIL_AFTER, self.total)

    def _reached(self, job: TuningJob) -> bool:
        """TargetObjectiveMetricValue reached by the best training job so far."""
        if self.target is None or job.best is None:
            return False
        value = float(job.best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"])
        return bool(value >= self.target if self.maximize else value <= self.target)

    def _stop_children(self, running: list[TrainingJob]) -> None:
        for record in running:
            if record.status != "InProgress":
                continue
            with contextlib.suppress(AWSError):  # it ended meanwhile
                self.tuner.call("StopTrainingJob", {"TrainingJobName": record.name})

    def _launch(self, job: TuningJob, records: list[TrainingJob | None]) -> bool:
        """Start the next training job; False if it could not be created (the tuning job
        then ends Failed with the refusal)."""
        metric = str(job.objective.get("MetricName", ""))
        own = [Observation(tuple(child["Point"]), objective_value(record, metric))
               for child, record in zip(job.children, records, strict=True)]  # fmt: skip
        history = self.warm + own
        point = self.sampler.propose(len(records), history)
        tuned = {r.name: r.value(p) for r, p in zip(self.ranges, point, strict=True)}
        name = f"{job.name}-{len(records) + 1:03d}-{secrets.token_hex(4)}"
        try:
            answer = self.tuner.call("CreateTrainingJob", child_request(job, name, tuned))
        except AWSError as exc:
            self.tuner.end(self.name, "Failed", f"{exc.code}: {exc.message}")
            return False
        child = Child(TrainingJobName=name, TrainingJobArn=answer["TrainingJobArn"],
                      CreationTime=self.state.now(), TunedHyperParameters=tuned,
                      Point=list(point))  # fmt: skip
        with self.state.store.transaction():
            current = load(self.state, self.name)
            current.children.append(child)
            self.state.store.put(KIND, current.key, current.to_document())
            trained = training_job(self.state, child)  # every save of it is in a transaction
            if trained is not None:
                trained.tuning_job_arn = current.arn
                self.state.store.put(TRAINING_KIND, trained.key, trained.to_document())
        return True
