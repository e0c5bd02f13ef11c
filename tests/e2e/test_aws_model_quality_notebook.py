"""AWS's model-quality monitoring notebook, its code cells run as written against smlocal.

The cells come from the vendored .ipynb (tests/e2e/notebooks/model_quality_monitoring, source
in its SOURCE.md) and run in order in one namespace, in a copy of the notebook's folder, with
the harness of the introduction notebook's test. What the harness changes, and nothing else:
- cell 5's `Session()` and cell 7's `get_execution_role()`: the emulator's session and a
  dummy role (the "Session/role lines");
- `time.sleep` (the notebook's `sleep`) is cut to 0.05 s; the ground-truth thread's hourly
  sleep instead lasts until the test ends (its next upload would come an hour later);
- capture files roll every second (SMLOCAL_CAPTURE_ROLL_SECONDS=1), so cell 47's 120 polls
  see the invocations of cell 44 (AWS took about a minute there too);
- before the cell that waits for the hourly schedule's first execution, the harness makes the
  schedule run now (`update_monitoring_schedule` to `NOW`, the last hour), instead of waiting
  for the hour;
- IPython's `%%time` cells run their body, its `!command` lines through the shell; the
  invoking thread ("stop the kernel")
  ends with the test.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_aws_model_monitor_notebook import (
    MODEL,
    ROLE,
    Harness,
    NotebookCellFailed,
    _HarnessStop,
    _real_sleep,
    as_python,
)

NOTEBOOK_DIR = Path(__file__).parent / "notebooks" / "model_quality_monitoring"
NOTEBOOK = NOTEBOOK_DIR / "sm-model_monitor_model_quality_monitoring.ipynb"
SESSION_LINES = {
    "session = Session()": "session = __harness_session__",
    "role = get_execution_role()": f'role = "{ROLE}"',
}
WAITS_FOR_FIRST_EXECUTION = 'print("Waiting for first execution", end="")'
HOURLY = 60 * 60
LONGEST_RUN = 900  # seconds: the notebook's own loops have no end of their own
# The CloudWatch metrics the real execution published (the saved output of cell 74).
REAL_METRICS = {
    "f0_5", "true_negative_rate", "false_negative_rate", "recall_best_constant_classifier",
    "precision_best_constant_classifier", "recall", "f2", "f0_5_best_constant_classifier",
    "f2_best_constant_classifier", "f1_best_constant_classifier", "auc", "precision",
    "accuracy_best_constant_classifier", "true_positive_rate", "f1", "accuracy",
    "false_positive_rate",
}  # fmt: skip


def code_cells() -> list[tuple[int, str]]:
    """(index in the notebook, source) of each code cell, the session lines replaced."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    found = [(i, "".join(c["source"])) for i, c in enumerate(cells) if c["cell_type"] == "code"]
    for line, replacement in SESSION_LINES.items():
        assert sum(source.count(line) for _, source in found) == 1, line
        found = [(i, source.replace(line, replacement)) for i, source in found]
    return found


class QualityHarness(Harness):
    """The introduction notebook's harness, with this notebook's hour-long sleep and wait."""

    def __init__(self, folder: Path, session: Any) -> None:
        super().__init__(folder, session)
        self.deadline = time.monotonic() + LONGEST_RUN

    def sleep(self, seconds: float) -> None:
        if seconds >= HOURLY and not self.is_main():
            self.stop.wait()  # the next hourly upload never comes during the test
        if self.is_main() and time.monotonic() > self.deadline:
            raise NotebookCellFailed(f"the notebook ran longer than {LONGEST_RUN} s")
        super().sleep(seconds)

    def is_main(self) -> bool:
        import threading

        return threading.current_thread() is self.main

    def run(self, index: int, source: str) -> None:
        if WAITS_FOR_FIRST_EXECUTION in source:
            self.run_quality_schedule_now()
        super().run(index, source.removeprefix("%%time\n"))  # IPython runs the body, timed

    def run_quality_schedule_now(self) -> None:
        monitor = self.namespace["churn_model_quality_monitor"]
        self.longest_sleep = 1.0  # the SDK polls for the end of Pending
        try:
            monitor.update_monitoring_schedule(
                schedule_cron_expression="NOW",
                data_analysis_start_time="-PT1H",
                data_analysis_end_time="-PT0H",
            )
        finally:
            self.longest_sleep = 0.05


@pytest.fixture
def smlocal(smlocal_factory):
    """This test's own emulator: capture files roll each second."""
    return smlocal_factory(env={"SMLOCAL_CAPTURE_ROLL_SECONDS": "1"})


@pytest.fixture
def notebook_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the notebook's folder, its model in place, as the working directory."""
    folder = tmp_path / "notebook"
    shutil.copytree(NOTEBOOK_DIR, folder)
    (folder / "model").mkdir()
    shutil.copy(MODEL, folder / "model" / "xgb-churn-prediction-model.tar.gz")
    config = tmp_path / "sagemaker-config.yaml"
    config.write_text(json.dumps({"SchemaVersion": "1.0", "SageMaker": {
        "PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}))  # fmt: skip
    monkeypatch.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", str(config))
    monkeypatch.chdir(folder)
    return folder


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_model_quality_notebook_runs_as_written(
    smlocal_sagemaker_session, notebook_folder, monkeypatch
) -> None:
    harness = QualityHarness(notebook_folder, smlocal_sagemaker_session)
    harness.watch_invocations(smlocal_sagemaker_session)
    monkeypatch.setattr(time, "sleep", harness.sleep)
    try:
        for index, source in code_cells():
            harness.run(index, as_python(source))
    finally:
        harness.end_threads()
    namespace = harness.namespace
    # The baseline of the notebook's 201 validation predictions, as AWS printed it (2021-05).
    metrics = namespace["binary_metrics"]
    assert metrics["confusion_matrix"] == {"0": {"0": 173, "1": 0}, "1": {"0": 12, "1": 16}}
    assert metrics["f2"]["value"] == 0.625
    assert metrics["auc"]["value"] == pytest.approx(0.939513, abs=5e-7)
    constraints = namespace["baseline_job"].suggested_constraints().body_dict
    assert list(constraints["binary_classification_constraints"]) == [
        "recall", "precision", "accuracy", "true_positive_rate", "true_negative_rate",
        "false_positive_rate", "false_negative_rate", "auc", "f0_5", "f1", "f2",
    ]  # fmt: skip
    # The execution: CompletedWithViolations, the violations worded as AWS's.
    assert namespace["status"] == "CompletedWithViolations"
    violations = namespace["violations"]
    names = [v["metric_name"] for v in violations]
    assert {"f2", "recall", "truePositiveRate", "falseNegativeRate"} <= set(names)
    for violation in violations:
        assert violation["description"].startswith(f"Metric {violation['metric_name']} with ")
        assert violation["description"].endswith(
            f"was {violation['constraint_check_type']} '"
            + violation["description"].rsplit("'", 2)[1]
            + "'"
        )
    assert namespace["report_uri"].split("/")[-5] == namespace["churn_monitor_schedule_name"]
    printed = {m["MetricName"] for m in namespace["model_quality_metrics"]}
    assert printed == REAL_METRICS


__all__ = ["_HarnessStop", "_real_sleep"]
