"""AWS's Model Monitor introduction notebook, its code cells run as written against smlocal.

The cells come from the vendored .ipynb (tests/e2e/notebooks/model_monitor_introduction,
source in its SOURCE.md) and run in order in one namespace, in a copy of the notebook's
folder. What the harness changes, and nothing else:
- cell 3's `sagemaker.Session()` and `get_execution_role()` lines: the emulator's session
  and a dummy role (the "Session/role lines");
- `time.sleep` is cut to 0.05 s while the notebook runs (its 1 s pauses between requests,
  60 s waits, the SDK's polls);
- the emulator keeps a new or updated schedule Pending for PENDING_SECONDS
  (SMLOCAL_SCHEDULE_PENDING_SECONDS, 1 s by default), so that cell 41 sees the schedule
  cell 37 created still Pending, as AWS did, however loaded the machine;
- before the cell that waits for the hourly schedule's first execution, the harness makes the
  schedule run now (UpdateMonitoringSchedule to `NOW`), instead of waiting for the hour; the
  SDK's wait for that update to leave Pending sleeps up to 1 s a poll (36 polls);
- IPython's `!command` lines run through the shell, as IPython runs them;
- pandas 2 removed `pd.io.json.json_normalize` that cells 31, 32 and 51 call (the notebook's
  kernel had pandas 1); the harness points it at `pd.json_normalize`;
- warnings are shown, as a kernel shows them, not raised as this suite's settings raise them
  (cell 37's `predictor.endpoint` is deprecated in SDK v2);
- the invoking thread of cell 39 ("stop the kernel to stop the invocations") ends with the test
  (at its next sleep or invocation).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

NOTEBOOK_DIR = Path(__file__).parent / "notebooks" / "model_monitor_introduction"
NOTEBOOK = NOTEBOOK_DIR / "sm-model_monitor_introduction.ipynb"
MODEL = Path(__file__).parents[1] / "data" / "churn-xgboost-0.90-model.tar.gz"
ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole"
SESSION_LINES = {
    "sm_session = sagemaker.Session()": "sm_session = __harness_session__",
    "role = get_execution_role()": f'role = "{ROLE}"',
}
WAITS_FOR_FIRST_EXECUTION = "Waiting for the first execution to happen..."
PENDING_SECONDS = 10
_real_sleep = time.sleep


class _HarnessStop(BaseException):
    """Ends the notebook's endless invoking thread (BaseException: its `except` lets it by)."""


class NotebookCellFailed(AssertionError):
    """A code cell raised; carries the cell's index in the .ipynb."""


def code_cells() -> list[tuple[int, str]]:
    """(index in the notebook, source) of each code cell."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    return [(i, "".join(c["source"])) for i, c in enumerate(cells) if c["cell_type"] == "code"]


def as_python(source: str) -> str:
    """IPython's `!command` lines as calls of the harness's shell."""
    return re.sub(
        r"^(\s*)!(.*)$", lambda m: f"{m[1]}__harness_system__({m[2]!r})", source, flags=re.M
    )


def with_session_lines_replaced(source: str) -> str:
    for line, replacement in SESSION_LINES.items():
        assert source.count(line) == 1, f"the notebook's session line changed: {line}"
        source = source.replace(line, replacement)
    return source


class Harness:
    """Runs the cells; owns the shortened sleep and the stop of the notebook's threads."""

    def __init__(self, folder: Path, session: Any) -> None:
        self.folder = folder
        self.stop = threading.Event()
        self.main = threading.current_thread()
        self.longest_sleep = 0.05  # of the notebook's own thread
        self.before = set(threading.enumerate())
        self.namespace: dict[str, Any] = {
            "__name__": "__main__",
            "__harness_session__": session,
            "__harness_system__": self.system,
        }

    def sleep(self, seconds: float) -> None:
        self.stop_point()
        main = threading.current_thread() is self.main
        _real_sleep(min(seconds, self.longest_sleep if main else 0.05))

    def stop_point(self, **_: Any) -> None:
        """Where the notebook's own threads end once the test is over."""
        if self.stop.is_set() and threading.current_thread() is not self.main:
            raise _HarnessStop

    def watch_invocations(self, session: Any) -> None:
        """Invocations are stop points too: once the endpoint is deleted, the invoking thread
        of cell 39 loops on ValidationError without ever sleeping."""
        events = session.sagemaker_runtime_client.meta.events
        events.register("before-call.sagemaker-runtime.InvokeEndpoint", self.stop_point)

    def system(self, command: str) -> None:
        subprocess.run(command, shell=True, cwd=self.folder, check=False)

    def run(self, index: int, source: str) -> None:
        if WAITS_FOR_FIRST_EXECUTION in source:
            self.run_schedule_now()
        try:
            with warnings.catch_warnings():  # a kernel shows warnings; pytest's config raises
                warnings.simplefilter("default")
                exec(compile(source, f"<cell {index}>", "exec"), self.namespace)
        except Exception as exc:
            raise NotebookCellFailed(f"cell {index}: {type(exc).__name__}: {exc}") from exc

    def run_schedule_now(self) -> None:
        """The hourly schedule's first execution, now (the notebook waits up to an hour)."""
        monitor = self.namespace["my_default_monitor"]
        self.longest_sleep = 1.0  # the SDK polls 36 times for the end of Pending
        try:
            monitor.update_monitoring_schedule(
                schedule_cron_expression="NOW",
                data_analysis_start_time="-PT1H",
                data_analysis_end_time="-PT0H",
            )
        finally:
            self.longest_sleep = 0.05

    def end_threads(self) -> None:
        self.stop.set()
        for thread in set(threading.enumerate()) - self.before:
            if not thread.daemon:
                thread.join(10)


@pytest.fixture
def smlocal(smlocal_factory):
    """This test's own emulator (the session's keeps schedules Pending for 1 s)."""
    return smlocal_factory(env={"SMLOCAL_SCHEDULE_PENDING_SECONDS": str(PENDING_SECONDS)})


@pytest.fixture
def notebook_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the notebook's folder, its model in place, as the working directory."""
    folder = tmp_path / "notebook"
    shutil.copytree(NOTEBOOK_DIR, folder)
    (folder / "model").mkdir()
    shutil.copy(MODEL, folder / "model" / "xgb-churn-prediction-model.tar.gz")
    # The notebook builds its own SDK sessions (Model, DefaultModelMonitor): no telemetry.
    config = tmp_path / "sagemaker-config.yaml"
    config.write_text(json.dumps({"SchemaVersion": "1.0", "SageMaker": {
        "PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}))  # fmt: skip
    monkeypatch.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", str(config))
    monkeypatch.chdir(folder)
    return folder


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_the_model_monitor_introduction_runs_as_written(
    smlocal_sagemaker_session, notebook_folder, monkeypatch
) -> None:
    import pandas as pd

    if not hasattr(pd.io.json, "json_normalize"):
        monkeypatch.setattr(pd.io.json, "json_normalize", pd.json_normalize, raising=False)
    harness = Harness(notebook_folder, smlocal_sagemaker_session)
    harness.watch_invocations(smlocal_sagemaker_session)
    monkeypatch.setattr(time, "sleep", harness.sleep)
    cells = code_cells()
    first, source = cells[0]
    cells[0] = (first, with_session_lines_replaced(source))
    try:
        for index, source in cells:
            harness.run(index, as_python(source))
    finally:
        harness.end_threads()
    # What the notebook printed when AWS ran it (its saved outputs of cells 41 and 45).
    namespace = harness.namespace
    assert namespace["desc_schedule_result"]["MonitoringScheduleStatus"] == "Pending"
    assert namespace["latest_job"]["ProcessingJobStatus"] == "Completed"
    assert namespace["latest_job"]["ExitMessage"] == (
        "CompletedWithViolations: Job completed successfully with 60 violations."
    )
    checks = {(v["feature_name"], v["constraint_check_type"])
              for v in namespace["violations"].body_dict["violations"]}  # fmt: skip
    assert {("Area Code_408", "data_type_check"), ("Churn", "data_type_check")} <= checks
