"""One step's run within an execution: its record, the cache, the retry policies.

Each move of the step is saved at once in the execution's document, under the store's
lock, so ListPipelineExecutionSteps shows it while it runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from smlocal.emulator.jobs.pipeline_records import (
    PipelineExecution,
    StepRun,
    get_execution,
    move_step,
    save_execution,
    stored_executions,
)
from smlocal.emulator.jobs.pipelines.expressions import Scope, StepFailed
from smlocal.emulator.jobs.pipelines.plan import StepSpec
from smlocal.emulator.jobs.pipelines.quality_check import quality_check
from smlocal.emulator.jobs.pipelines.steps import (
    HANDLERS,
    ControlCalls,
    Handler,
    StepResult,
    StepStopped,
    StepWork,
    arguments_of,
)
from smlocal.emulator.support.records import Nested
from smlocal.emulator.support.state import State

log = logging.getLogger(__name__)
ALL_HANDLERS: dict[str, Handler] = {**HANDLERS, "QualityCheck": quality_check}
_DURATION = re.compile(
    r"^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$"
)
_SECONDS = (365 * 86400, 30 * 86400, 7 * 86400, 86400, 3600, 60, 1)
_NAME_CHARACTERS = string.ascii_letters + string.digits


def unsupported(spec: StepSpec) -> str:
    """The FailureReason of a step whose type smlocal does not run."""
    return (f"Step {spec.name} is of type {spec.type}, which smlocal does not run; it runs "
            f"steps of type {', '.join(sorted(ALL_HANDLERS))}.")  # fmt: skip


def expire_seconds(text: str | None) -> float | None:
    """CacheConfig's ExpireAfter (ISO 8601 duration) in seconds; None: never expires."""
    if not text:
        return None
    found = _DURATION.match(text.strip().upper())
    if found is None:
        return None
    return float(sum(int(v or 0) * s for v, s in zip(found.groups(), _SECONDS, strict=True)))


def cache_key(spec: StepSpec, arguments: Any) -> str:
    """What makes two runs of a step the same: its type, resolved arguments, property files."""
    document = [spec.type, arguments, spec.definition.get("PropertyFiles")]
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


def resource_name(execution_id: str, step: str) -> str:
    """The name of a job or model a step makes, as Pipelines names them."""
    cleaned = re.sub(r"[^A-Za-z0-9]+", "-", step).strip("-")[:28] or "step"
    suffix = "".join(secrets.choice(_NAME_CHARACTERS) for _ in range(10))
    return f"pipelines-{execution_id}-{cleaned}-{suffix}"


@dataclass
class StepRunner:
    """Runs the steps of one execution."""

    state: State
    call: ControlCalls
    arn: str
    stopping: threading.Event
    poll: float

    def update(self, name: str, change: Callable[[StepRun], None]) -> None:
        """Change a step's record and save it (not once the execution has been ended
        elsewhere: by smlocal stopping)."""
        with self.state.store.transaction():
            execution = get_execution(self.state, self.arn)
            if execution.status not in ("Executing", "Stopping"):
                return
            run = execution.step(name)
            if run is None:
                run = StepRun(StepName=name, StepStatus="Failed", AttemptCount=0)
                execution.steps.append(run)
            change(run)
            execution.last_modified_time = self.state.now()
            save_execution(self.state, execution)

    def begin(self, spec: StepSpec) -> None:
        """The step is Starting (again, after a failure being retried)."""
        now = self.state.now()

        def start(run: StepRun) -> None:
            for key in ("Metadata", "CacheHitResult", "_Properties", "_CacheKey"):
                run.pop(key, None)  # type: ignore[misc]
            move_step(run, "Starting", now)
            run["_Type"] = spec.type
            run["AttemptCount"] = run.get("AttemptCount", 0) + 1
            for key, member in (("DisplayName", "StepDisplayName"),
                                ("Description", "StepDescription")):  # fmt: skip
                if spec.definition.get(key):
                    run[member] = spec.definition[key]  # type: ignore[literal-required]

        self.update(spec.name, start)

    def run(self, spec: StepSpec, scope: Scope, execution_id: str) -> str:
        """Run a step to its end; its final status."""
        self.begin(spec)
        try:
            handler = ALL_HANDLERS.get(spec.type)
            if handler is None:
                raise StepFailed(unsupported(spec))
            arguments = arguments_of(spec, scope)
            key = cache_key(spec, arguments)
            if self._from_cache(spec, key):
                return "Succeeded"
            self.update(spec.name, lambda r: move_step(r, "Executing", self.state.now()))
            result = self._attempts(spec, handler, scope, arguments, execution_id)
        except StepStopped:
            return self._end(spec.name, "Stopped")
        except StepFailed as exc:
            return self._end(spec.name, "Failed", str(exc))
        except Exception as exc:
            log.exception("pipeline step %s failed", spec.name)
            return self._end(spec.name, "Failed", f"smlocal could not run the step: {exc}")
        return self._succeed(spec.name, result, key)

    def _attempts(
        self, spec: StepSpec, handler: Handler, scope: Scope, arguments: Any, execution_id: str
    ) -> StepResult:
        """The handler, tried again as the step's RetryPolicies say."""
        attempt = 1
        started = time.monotonic()
        experiment = get_execution(self.state, self.arn).experiment_config
        while True:
            name = resource_name(execution_id, spec.name)
            note: Callable[[Nested], None] = lambda m: self._note(spec.name, m)  # noqa: E731
            work = StepWork(spec, self.call, scope, name, self.stopping, note, self.poll,
                            experiment)  # fmt: skip
            try:
                return handler(work, arguments)
            except StepFailed as exc:
                wait = _retry_wait(spec, exc.kind, attempt, time.monotonic() - started)
                if wait is None or self.stopping.wait(wait):
                    raise
            attempt += 1
            self.update(spec.name, _count_attempt)

    def _note(self, name: str, metadata: Nested) -> None:
        self.update(name, lambda r: r.__setitem__("Metadata", metadata))

    def _end(self, name: str, status: str, reason: str | None = None) -> str:
        self.update(name, lambda r: move_step(r, status, self.state.now(), reason))
        return status

    def _succeed(self, name: str, result: StepResult, key: str) -> str:
        def done(run: StepRun) -> None:
            run["Metadata"] = result.metadata
            run["_Properties"] = result.properties
            run["_CacheKey"] = key
            move_step(run, "Succeeded", self.state.now())

        self.update(name, done)
        return "Succeeded"

    def _from_cache(self, spec: StepSpec, key: str) -> bool:
        """Take a cached run's results when the step's CacheConfig allows one."""
        config = spec.definition.get("CacheConfig") or {}
        if not config.get("Enabled"):
            return False
        expire = expire_seconds(config.get("ExpireAfter"))
        found = cached(self.state, self.arn, spec.name, key, expire)
        if found is None:
            return False
        source, hit = found

        def reuse(run: StepRun) -> None:
            run["CacheHitResult"] = {"SourcePipelineExecutionArn": source}
            run["Metadata"] = hit.get("Metadata", {})
            run["_Properties"] = hit.get("_Properties", {})
            run["_CacheKey"] = key
            move_step(run, "Succeeded", self.state.now())

        self.update(spec.name, reuse)
        return True


def _count_attempt(run: StepRun) -> None:
    run["AttemptCount"] = run.get("AttemptCount", 1) + 1


def _retry_wait(spec: StepSpec, kind: str | None, attempt: int, elapsed: float) -> float | None:
    """Seconds to wait before the next attempt, or None when no policy retries this one."""
    if kind is None:
        return None
    for policy in spec.definition.get("RetryPolicies") or []:
        if kind not in policy.get("ExceptionType", []):
            continue
        if attempt > int(policy.get("MaxAttempts", 5)):
            return None
        expire = policy.get("ExpireAfterMin")
        if expire is not None and elapsed > float(expire) * 60:
            return None
        interval = float(policy.get("IntervalSeconds", 1))
        return interval * float(policy.get("BackoffRate", 2.0)) ** (attempt - 1)
    return None


def cached(
    state: State, arn: str, name: str, key: str, expire: float | None
) -> tuple[str, StepRun] | None:
    """(the source execution's ARN, its step run) of the latest succeeded run of this step
    with the same key in another execution of the same pipeline, not expired."""
    current: PipelineExecution = get_execution(state, arn)
    now = state.now()
    for execution in reversed(stored_executions(state)):
        if execution.arn == arn or execution.pipeline_arn != current.pipeline_arn:
            continue
        run = execution.step(name)
        if run is None or run.get("StepStatus") != "Succeeded" or run.get("_CacheKey") != key:
            continue
        if expire is not None and now - float(run.get("EndTime", 0)) > expire:
            continue
        source = run.get("CacheHitResult", {}).get("SourcePipelineExecutionArn", execution.arn)
        return source, run
    return None
