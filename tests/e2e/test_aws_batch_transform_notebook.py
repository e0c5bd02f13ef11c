"""AWS's batch-transform data-quality notebook, its code cells run as written against smlocal.

The cells come from the vendored .ipynb (tests/e2e/notebooks/model_monitor_batch_transform_
data_quality, source in its SOURCE.md) and run in order in one namespace, with the harness of
tests/e2e/test_aws_model_monitor_notebook.py. What the harness changes, and nothing else:
- the Session/role lines of cell 8: `session.Session(boto3.Session())` is the emulator's
  session, `get_execution_role()` a dummy role;
- the notebook's own SDK sessions take the emulator's default bucket from the SDK config the
  harness writes, and the SDK's STS endpoint is the emulator's (so nothing leaves loopback);
- `!` lines run through the shell with IPython's `{name}` expansion, except the `pip install`
  lines of cell 4 (they would change the test's own environment);
- `time.sleep` is cut to 0.05 s; before the cell that waits for the hourly schedule's first
  execution, the schedule is made to run now (UpdateMonitoringSchedule to `NOW`);
- pandas 2 removed `pd.io.json.json_normalize` and refuses `display.max_colwidth` -1 (the
  notebook's kernel had pandas 1): the harness points the first at `pd.json_normalize` and
  passes None (no limit, what -1 meant) for the second;
- the `%%time` cell magic of cell 8 is dropped (it only prints the cell's time);
- warnings are shown, as a kernel shows them, not raised.
The notebook has no saved outputs; the test checks what its cells print and read back.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_aws_model_monitor_notebook import MODEL, PENDING_SECONDS, Harness, as_python

NOTEBOOK_DIR = Path(__file__).parent / "notebooks" / "model_monitor_batch_transform_data_quality"
NOTEBOOK = NOTEBOOK_DIR / "sm-model_monitor_batch_transform_data_quality_on_schedule.ipynb"
ROLE = "arn:aws:iam::123456789012:role/service-role/AmazonSageMaker-ExecutionRole"
SESSION_LINES = {
    "session.Session(boto3.Session())": "__harness_session__",
    "role = get_execution_role()": f'role = "{ROLE}"',
}
WAITS_FOR_FIRST_EXECUTION = "Waiting for the 1st execution to happen..."
BUCKET = "smlocal-sagemaker"  # the smlocal_sagemaker_session fixture's default bucket


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


class BatchHarness(Harness):
    """The introduction notebook's harness, with IPython's `{name}` expansion in `!` lines."""

    def system(self, command: str) -> None:
        if re.search(r"\bpip install\b", command):
            return  # cell 4 upgrades pip, sagemaker and boto3: not in the test's environment
        expanded = re.sub(r"\{([\w.]+)\}", lambda m: str(self._lookup(m[1])), command)
        subprocess.run(expanded, shell=True, cwd=self.folder, check=False)

    def _lookup(self, dotted: str) -> Any:
        head, *rest = dotted.split(".")
        value = self.namespace[head] if head in self.namespace else __import__(head)
        for name in rest:
            value = getattr(value, name)
        return value

    def run(self, index: int, source: str) -> None:
        if WAITS_FOR_FIRST_EXECUTION in source:
            self.run_schedule_now()
        Harness.run(self, index, source.removeprefix("%%time\n"))


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
    # The notebook's Model builds its own session: it takes the emulator's default bucket
    # (SessionDefaultS3Bucket), not a name it would ask STS's regional endpoint for.
    config.write_text(json.dumps({"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {
        "Modules": {"TelemetryOptOut": True, "Session": {"DefaultS3Bucket": BUCKET}}}}}))  # fmt: skip
    monkeypatch.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", str(config))
    monkeypatch.chdir(folder)
    return folder


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_the_batch_transform_data_quality_notebook_runs_as_written(
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

    # The SDK names STS's regional endpoint itself (not through AWS_ENDPOINT_URL): keep every
    # call it would make there on the emulator, on loopback.
    edge = smlocal_sagemaker_session.sagemaker_client.meta.endpoint_url
    monkeypatch.setattr(sagemaker.session, "sts_regional_endpoint", lambda _region: edge)
    harness = BatchHarness(notebook_folder, smlocal_sagemaker_session)
    monkeypatch.setattr(time, "sleep", harness.sleep)
    try:
        for index, source in code_cells():
            harness.run(index, as_python(source))
    finally:
        harness.end_threads()
    namespace = harness.namespace
    bucket = namespace["bucket"]
    capture = namespace["s3_capture_upload_path"]
    # cells 22 and 26: the manifests of the transform's input and output
    assert namespace["sample_input_content"] == [
        {"prefix": f"s3://{bucket}/transform-input"},
        "/test-dataset-input-cols.csv",
    ]
    [output_prefix, output_name] = namespace["sample_output_content"]
    assert output_name == "test-dataset-input-cols.csv.out"
    assert output_prefix["prefix"].startswith(f"s3://{bucket}/")
    assert capture.startswith(f"s3://{bucket}/")
    assert namespace["desc_schedule_result"]["MonitoringScheduleStatus"] == "Pending"
    assert namespace["latest_job"]["ProcessingJobStatus"] == "Completed"
    assert re.fullmatch(  # the analyzer's words, as the notebook prints them in cell 44
        r"Completed: Job completed successfully with no violations\.|CompletedWithViolations: "
        r"Job completed successfully with \d+ violations\.",
        namespace["latest_job"]["ExitMessage"],
    )
    violations = namespace["violations"].body_dict["violations"]
    assert all(
        set(v) == {"feature_name", "constraint_check_type", "description"} for v in violations
    )
