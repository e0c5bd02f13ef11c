"""Fixtures for the analyzer tests: running baseline jobs and monitoring executions."""

from __future__ import annotations

from pathlib import Path

import pytest
from monitor_helpers import CAPTURE, CSV_WITH_HEADER, Runner

from smlocal.model_monitor.job import JobResult, run_analysis


@pytest.fixture
def logs() -> list[str]:
    """Lines the job logged."""
    return []


@pytest.fixture
def baseline(tmp_path: Path, logs: list[str]) -> Runner:
    """Run a baseline job on a dataset; returns the result (outputs under tmp/baseline)."""

    def run(dataset: Path, fmt: str = CSV_WITH_HEADER, **env: str) -> JobResult:
        environment = {
            "dataset_source": str(dataset),
            "dataset_format": fmt,
            "output_path": str(tmp_path / "baseline"),
            **env,
        }
        return run_analysis(environment, log=logs.append, message_file=tmp_path / "message")

    return run


@pytest.fixture
def monitor(tmp_path: Path, logs: list[str]) -> Runner:
    """Run a monitoring execution against files in tmp/baseline (outputs under tmp/run)."""

    def run(
        data: Path,
        fmt: str = CAPTURE,
        statistics: Path | None = None,
        constraints: Path | None = None,
        **env: str,
    ) -> JobResult:
        environment = {
            "dataset_source": str(data),
            "dataset_format": fmt,
            "output_path": str(tmp_path / "run"),
            "baseline_statistics": str(statistics or tmp_path / "baseline" / "statistics.json"),
            "baseline_constraints": str(constraints or tmp_path / "baseline" / "constraints.json"),
            **env,
        }
        return run_analysis(environment, log=logs.append, message_file=tmp_path / "message")

    return run
