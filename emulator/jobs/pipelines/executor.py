"""The pipeline executor: runs a pipeline execution's definition, step by step.

Each execution runs in a thread of its own; its steps run in a pool as soon as the steps
they need have succeeded (at most the execution's MaxParallelExecutionSteps at once). A
Condition step's outcome decides which of its branches run; steps after a step that did
not run do not run either, and are not listed. After a step fails no new step starts and
the execution fails once the running ones end. StopPipelineExecution stops the running
steps' jobs; RetryPipelineExecution runs the execution again from its failed steps.

Executions do not outlive the emulator: one still Executing when smlocal stops (or at the
next start, after a crash) ends Failed (one Stopping ends Stopped), with a FailureReason
saying so; RetryPipelineExecution resumes it.
"""

from __future__ import annotations

import json
import logging
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import Any

from smlocal.emulator.jobs.pipeline_records import (
    get_execution,
    move_step,
    save_execution,
    stored_executions,
)
from smlocal.emulator.jobs.pipelines.expressions import Scope, StepFailed, walk
from smlocal.emulator.jobs.pipelines.plan import StepSpec, parse, steps_of
from smlocal.emulator.jobs.pipelines.step_run import ALL_HANDLERS, StepRunner
from smlocal.emulator.jobs.pipelines.steps import ControlCalls
from smlocal.emulator.support.clients import client, s3_location
from smlocal.emulator.support.state import State

log = logging.getLogger(__name__)
STEP_FAILURE = "Step failure: One or multiple steps failed."
RESTARTED = (
    "smlocal stopped while this pipeline execution was running; executions do not survive a "
    "restart. RetryPipelineExecution runs it again from the steps that did not finish."
)
DEFAULT_PARALLELISM = 50


class PipelineExecutor:
    """Runs pipeline executions in the background."""

    def __init__(self, state: State, call: ControlCalls, poll: float = 0.2) -> None:
        self.state = state
        self.call = call
        self.poll = poll
        self.lock = threading.Lock()
        self.running: dict[str, tuple[threading.Thread, threading.Event]] = {}

    def start(self, arn: str) -> None:
        """Run a stored Executing execution (new, or retried) in the background."""
        stopping = threading.Event()
        thread = threading.Thread(target=self._run, args=(arn, stopping), daemon=True,
                                  name=f"pipeline-{arn.rsplit('/', 1)[1]}")  # fmt: skip
        with self.lock:
            self.running[arn] = (thread, stopping)
        thread.start()

    def stop(self, arn: str) -> None:
        """Stop a running execution: its running steps' jobs are stopped, none starts."""
        with self.lock:
            found = self.running.get(arn)
        if found is not None:
            found[1].set()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the running executions' threads (tests, shutdown)."""
        with self.lock:
            threads = [thread for thread, _ in self.running.values()]
        for thread in threads:
            thread.join(timeout)

    def shutdown(self) -> None:
        """smlocal is stopping: running executions end now, as they would at the next start
        (their steps start nothing more and record nothing more)."""
        self.abandon_unfinished()
        with self.lock:
            for _, stopping in self.running.values():
                stopping.set()

    def abandon_unfinished(self) -> None:
        """Executions still running (at start-up: when smlocal stopped) end now."""
        for execution in stored_executions(self.state):
            if execution.status not in ("Executing", "Stopping"):
                continue
            with self.state.store.transaction():
                current = get_execution(self.state, execution.arn)
                now = self.state.now()
                ending = "Stopped" if current.status == "Stopping" else "Failed"
                for run in current.steps:
                    if run["StepStatus"] in ("Starting", "Executing", "Stopping"):
                        final = "Stopped" if run["StepStatus"] == "Stopping" else "Failed"
                        move_step(run, final, now, None if final == "Stopped" else RESTARTED)
                current.move(ending, now, RESTARTED if ending == "Failed" else None)
                save_execution(self.state, current)
            log.info("pipeline execution %s ended %s: smlocal restarted", execution.arn, ending)

    def _run(self, arn: str, stopping: threading.Event) -> None:
        try:
            ExecutionRun(self, arn, stopping).run()
        except Exception as exc:
            log.exception("pipeline execution %s failed", arn)
            self._end(arn, "Failed", f"smlocal could not run the pipeline execution: {exc}")
        finally:
            with self.lock:
                self.running.pop(arn, None)

    def _end(self, arn: str, status: str, reason: str | None = None) -> None:
        with self.state.store.transaction():
            execution = get_execution(self.state, arn)
            if execution.status in ("Executing", "Stopping"):
                execution.move(status, self.state.now(), reason)
                save_execution(self.state, execution)


class ExecutionRun:
    """One run of an execution (a retry is another run of the same execution)."""

    def __init__(self, executor: PipelineExecutor, arn: str, stopping: threading.Event) -> None:
        self.executor = executor
        self.state = executor.state
        self.arn = arn
        self.stopping = stopping
        execution = get_execution(self.state, arn)
        self.execution_id = execution.execution_id
        self.pipeline = (execution.pipeline_name, execution.pipeline_arn)
        self.started = datetime.fromtimestamp(execution.creation_time, UTC)
        self.parameters = execution.parameters
        self.specs = steps_of(parse(execution.definition))
        parallelism = (execution.parallelism or {}).get("MaxParallelExecutionSteps")
        self.parallelism = int(str(parallelism or DEFAULT_PARALLELISM))
        self.steps = StepRunner(self.state, executor.call, arn, stopping, executor.poll)
        self._s3: Any = None

    def run(self) -> None:
        """Start steps as they become ready until none is running; then end the execution."""
        attempted: set[str] = set()
        failed: list[StepSpec] = []
        futures: dict[Future[str], StepSpec] = {}
        with ThreadPoolExecutor(self.parallelism, thread_name_prefix="pipeline-step") as pool:
            while True:
                if not failed and not self.stopping.is_set():
                    for spec in self._ready(attempted):
                        attempted.add(spec.name)
                        future = pool.submit(self.steps.run, spec, self.scope(), self.execution_id)
                        futures[future] = spec
                if not futures:
                    break
                done, _ = wait(list(futures), return_when=FIRST_COMPLETED)
                for future in done:
                    spec = futures.pop(future)
                    if future.result() != "Succeeded":
                        failed.append(spec)
        self._finish(failed)

    def _ready(self, attempted: set[str]) -> list[StepSpec]:
        """The steps that may start now."""
        execution = get_execution(self.state, self.arn)
        status = {run["StepName"]: run["StepStatus"] for run in execution.steps}
        outcome = {run["StepName"]: run.get("_Properties", {}).get("Outcome")
                   for run in execution.steps}  # fmt: skip
        ready = []
        for spec in self.specs.values():
            if spec.name in attempted or status.get(spec.name) == "Succeeded":
                continue
            if any(status.get(need) != "Succeeded" for need in spec.needs):
                continue
            if spec.branch and outcome.get(spec.branch[0]) != str(spec.branch[1]):
                continue
            ready.append(spec)
        return ready

    def _finish(self, failed: list[StepSpec]) -> None:
        if self.stopping.is_set():
            self.executor._end(self.arn, "Stopped")
        elif failed:
            reasons = [f" Step {s.name}: {s.type} steps are not run by smlocal."
                       for s in failed if s.type not in ALL_HANDLERS]  # fmt: skip
            self.executor._end(self.arn, "Failed", STEP_FAILURE + "".join(reasons))
        else:
            self.executor._end(self.arn, "Succeeded")

    # -- what expressions read ------------------------------------------------------------

    def scope(self) -> Scope:
        """What the steps' expressions can name, now."""
        return Scope(self.parameters, self._variable, self._properties, self._property_file,
                     self._s3_json)  # fmt: skip

    def _variable(self, name: str) -> Any:
        now = datetime.fromtimestamp(self.state.now(), UTC)
        values = {
            "PipelineExecutionId": self.execution_id,
            "PipelineExecutionArn": self.arn,
            "PipelineName": self.pipeline[0],
            "PipelineArn": self.pipeline[1],
            "StartDateTime": self.started.isoformat().replace("+00:00", "Z"),
            "CurrentDateTime": now.isoformat().replace("+00:00", "Z"),
        }
        return values[name]

    def _properties(self, step: str) -> Any:
        run = get_execution(self.state, self.arn).step(step)
        if run is None or run.get("StepStatus") != "Succeeded":
            raise KeyError(step)
        return run.get("_Properties", {})

    def _property_file(self, step: str, name: str) -> Any:
        spec = self.specs.get(step)
        files = spec.definition.get("PropertyFiles", []) if spec else []
        entry = next((f for f in files if f.get("PropertyFileName") == name), None)
        if entry is None:
            raise StepFailed(f"Step {step} has no property file {name}.")
        outputs = self._properties(step).get("ProcessingOutputConfig", {}).get("Outputs", [])
        output = walk(outputs, f"['{entry['OutputName']}']", f"Steps.{step}.{name}")
        uri = f"{output['S3Output']['S3Uri'].rstrip('/')}/{entry['FilePath'].lstrip('/')}"
        return self._s3_json(uri)

    def _s3_json(self, uri: str) -> Any:
        if self._s3 is None:
            self._s3 = client(self.state.settings, "s3")
        try:
            where = s3_location(uri)
            body = self._s3.get_object(Bucket=where.bucket, Key=where.key)["Body"].read()
            return json.loads(body)
        except Exception as exc:
            raise StepFailed(f"Cannot read the JSON file {uri}: {exc}") from None
