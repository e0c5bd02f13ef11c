"""`smlocal demo`: deploy, traffic, capture, baseline, monitoring execution, report, against a
running emulator or one it starts (and stops) itself."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.support import SMLOCAL, http_status

STEPS = ("deploy:", "traffic:", "capture:", "baseline:", "monitoring execution:", "report:")


def demo(*args: str, cwd: Path, env: dict[str, str] | None = None):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SMLOCAL_"))}
    base.update(AWS_EC2_METADATA_DISABLED="true")
    return subprocess.run(
        [*SMLOCAL, "demo", *args], env={**base, **(env or {})}, cwd=cwd,
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip


def test_the_walk_against_a_running_emulator(smlocal_factory, tmp_path) -> None:
    emulator = smlocal_factory()
    report = tmp_path / "out" / "report.html"
    done = demo("--url", emulator.url, "--output", str(report), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"using the emulator at {emulator.url}"
    assert [line.split("] ", 1)[1].startswith(step) for line, step in zip(
        [line for line in lines if line.startswith("[")], STEPS, strict=True
    )] == [True] * 6  # fmt: skip
    assert "[2/6] traffic: 200 invocations, 80 with sepal length +3 cm" in lines
    # Files roll every minute, per worker and per hour: a slow machine may write several.
    capture = re.compile(
        r"\[3/6\] capture: 200 records in [1-9][0-9]* file\(s\) under "
        r"s3://smlocal-example/datacapture/iris-example/"
    )
    assert any(capture.fullmatch(line) for line in lines), lines
    drift = [line for line in lines if "Baseline drift distance" in line]
    assert len(drift) == 1
    assert drift[0].strip().startswith("_c1: Baseline drift distance: ")  # the sepal length
    assert lines[-1] == f"[6/6] report: {report} (1 violation(s))"
    page = report.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "iris-example" in page
    listed = emulator.client("sagemaker").list_monitoring_executions(EndpointName="iris-example")
    assert [e["MonitoringExecutionStatus"] for e in listed["MonitoringExecutionSummaries"]] == [
        "CompletedWithViolations"
    ]

    again = demo("--url", emulator.url, "--invocations", "5", "--output", "r.html", cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "[1/6] deploy: endpoint iris-example exists (InService)" in again.stdout
    assert (tmp_path / "r.html").exists()

    # the endpoint deleted (its schedule first), its model and config kept: built again
    sm = emulator.client("sagemaker")
    for schedule in sm.list_monitoring_schedules(EndpointName="iris-example")[
        "MonitoringScheduleSummaries"
    ]:
        sm.delete_monitoring_schedule(MonitoringScheduleName=schedule["MonitoringScheduleName"])
    sm.delete_endpoint(EndpointName="iris-example")
    rebuilt = demo("--url", emulator.url, "--invocations", "5", "--output", "r.html", cwd=tmp_path)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "[1/6] deploy: endpoint iris-example (SageMaker's XGBoost iris model" in rebuilt.stdout
    assert len(sm.list_models(NameContains="iris-example")["Models"]) == 1


def test_the_walk_starts_its_own_emulator_when_none_answers(tmp_path) -> None:
    if http_status("http://127.0.0.1:4599/_smlocal/health") is not None:
        pytest.skip("an emulator answers on :4599; the demo would use it")
    done = demo("--invocations", "20", cwd=tmp_path, env={"TMPDIR": str(tmp_path)})
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"starting an emulator for the walk (data and log in {tmp_path}/")
    assert lines[1].startswith("emulator ready at http://127.0.0.1:")
    assert lines[-2] == (
        f"[6/6] report: {tmp_path / 'smlocal-demo-report.html'} (0 violation(s))"
    )  # 20 rows are too few distinct values for a drift comparison
    assert lines[-1].startswith("emulator stopped; `smlocal up --data-dir /")
    assert (tmp_path / "smlocal-demo-report.html").exists()


def test_bad_invocations_are_a_usage_error(tmp_path) -> None:
    done = demo("--invocations", "5000", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "smlocal demo: error: argument --invocations: '5000': give 1 to 500"
    )
