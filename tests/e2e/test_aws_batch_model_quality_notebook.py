"""AWS's batch-transform model-quality notebook, its code cells run as written against smlocal.

The cells come from the vendored .ipynb (tests/e2e/notebooks/model_monitor_batch_transform_
model_quality, source in its SOURCE.md) and run in order in one namespace, with the harness of
the batch-transform data-quality notebook's test (tests/e2e/test_aws_batch_transform_notebook.py),
which says what it changes: the Session/role lines, `pip install` lines skipped, `time.sleep`
cut short, the hourly schedule made to run now before the cell that waits for its first
execution (here `ModelQualityMonitor.update_monitoring_schedule` to `NOW` over the last six
hours, the window the notebook's offsets give), pandas 1 names, the `%%time` magic dropped.
The notebook has no saved outputs; the test checks what its cells print and read back.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_aws_batch_transform_notebook import BUCKET, SESSION_LINES, BatchHarness
from tests.e2e.test_aws_model_monitor_notebook import MODEL, PENDING_SECONDS, as_python

NOTEBOOK_DIR = Path(__file__).parent / "notebooks" / "model_monitor_batch_transform_model_quality"
NOTEBOOK = NOTEBOOK_DIR / "sm-model_monitor_batch_transform_model_quality_on_schedule.ipynb"


def code_cells() -> list[tuple[int, str]]:
    """(index in the notebook, source) of each code cell, the Session/role lines replaced."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    found = [(i, "".join(c["source"])) for i, c in enumerate(cells) if c["cell_type"] == "code"]
    replaced = []
    for index, source in found:
        for line, replacement in SESSION_LINES.items():
            source = source.replace(line, replacement)  # noqa: PLW2901
        replaced.append((index, source))
    assert sum("__harness_session__" in s for _, s in replaced) == 1, "the session lines moved"
    return replaced


class ModelQualityHarness(BatchHarness):
    def run_schedule_now(self) -> None:
        """The hourly schedule's first execution, now, over the notebook's six hours."""
        monitor = self.namespace["my_default_monitor"]
        self.longest_sleep = 1.0  # the SDK polls for the end of Pending
        try:
            monitor.update_monitoring_schedule(
                schedule_cron_expression="NOW",
                data_analysis_start_time="-PT6H",
                data_analysis_end_time="-PT0H",
            )
        finally:
            self.longest_sleep = 0.05


@pytest.fixture
def smlocal(smlocal_factory):
    """This test's own emulator."""
    return smlocal_factory(env={"SMLOCAL_SCHEDULE_PENDING_SECONDS": str(PENDING_SECONDS)})


@pytest.fixture
def notebook_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the notebook's folder, its model in place, as the working directory."""
    folder = tmp_path / "notebook"
    shutil.copytree(NOTEBOOK_DIR, folder)
    (folder / "model").mkdir()
    shutil.copy(MODEL, folder / "model" / "xgb-churn-prediction-model.tar.gz")
    config = tmp_path / "sagemaker-config.yaml"
    config.write_text(json.dumps({"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {
        "Modules": {"TelemetryOptOut": True, "Session": {"DefaultS3Bucket": BUCKET}}}}}))  # fmt: skip
    monkeypatch.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", str(config))
    monkeypatch.chdir(folder)
    return folder


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
@pytest.mark.filterwarnings("ignore::ResourceWarning")  # cell 36's json.dump(..., open(...))
def test_the_batch_transform_model_quality_notebook_runs_as_written(
    smlocal_sagemaker_session, notebook_folder, monkeypatch
) -> None:
    import pandas as pd

    if not hasattr(pd.io.json, "json_normalize"):
        monkeypatch.setattr(pd.io.json, "json_normalize", pd.json_normalize, raising=False)
    set_option = pd.set_option

    def pandas_1_set_option(key: str, value: Any) -> None:
        set_option(key, None if key == "display.max_colwidth" and value == -1 else value)

    monkeypatch.setattr(pd, "set_option", pandas_1_set_option)
    import sagemaker.session

    edge = smlocal_sagemaker_session.sagemaker_client.meta.endpoint_url
    monkeypatch.setattr(sagemaker.session, "sts_regional_endpoint", lambda _region: edge)
    harness = ModelQualityHarness(notebook_folder, smlocal_sagemaker_session)
    monkeypatch.setattr(time, "sleep", harness.sleep)
    try:
        for index, source in code_cells():
            harness.run(index, as_python(source))
    finally:
        harness.end_threads()
    namespace = harness.namespace
    # the .out records: 69 joined input columns, the probability, the inference id and time
    outputs = namespace["inf_outputs"]
    assert len(outputs) == len(namespace["test_gt"])
    first = outputs[0].split(",")
    assert len(first) == 69 + 3
    assert 0.0 <= float(first[69]) <= 1.0
    assert first[-1].endswith("Z")
    schedule = namespace["my_default_monitor"].describe_schedule()
    assert schedule["MonitoringType"] == "ModelQuality"
    latest = namespace["latest_job"]
    assert latest["ProcessingJobStatus"] == "Completed", latest.get("FailureReason")
    assert re.fullmatch(
        r"Completed: Job completed successfully with no violations\.|CompletedWithViolations: "
        r"Job completed successfully with \d+ violations\.",
        latest["ExitMessage"],
    )
    # the baseline's inference is the label itself: every metric perfect, so the model's
    # real predictions fall short of some of its constraints
    violations = namespace["violations"].body_dict["violations"]
    assert violations
    assert all(
        set(v) == {"metric_name", "constraint_check_type", "description"} for v in violations
    )
    statistics = namespace["my_default_monitor"].latest_monitoring_statistics().body_dict
    assert statistics["dataset"]["item_count"] == len(outputs)
    assert "binary_classification_metrics" in statistics
    assert any(f.endswith("constraint_violations.json") for f in namespace["report_files"])
