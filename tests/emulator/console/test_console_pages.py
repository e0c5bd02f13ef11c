"""The console's pages as units: empty states that say what to do, and the plain error page
when what a page reads is down (a control plane stand-in; no emulator)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from smlocal.emulator.console.app import Console
from smlocal.emulator.console.sources import Sources
from smlocal.emulator.runtime.metrics import EndpointMetrics
from smlocal.emulator.settings import EmulatorSettings
from smlocal.emulator.wire.http_server import Request

EMPTY = {
    "ListEndpoints": {"Endpoints": []},
    "ListMonitoringSchedules": {"MonitoringScheduleSummaries": []},
    "ListTrainingJobs": {"TrainingJobSummaries": []},
    "ListProcessingJobs": {"ProcessingJobSummaries": []},
    "ListModelPackageGroups": {"ModelPackageGroupSummaryList": []},
}


def console(control: Any) -> Console:
    sources = Sources(None, control, None, EndpointMetrics(EmulatorSettings()))  # type: ignore[arg-type]
    return Console(sources, None, None)  # type: ignore[arg-type]


def get(handler: Console, path: str) -> tuple[int, dict[str, str], str]:
    request = Request("GET", path, "", [(b"host", b"127.0.0.1:4599")], b"", "1.1", True, "")
    status, headers, body = handler.answer(request)
    return status, dict(headers), re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body.decode()))


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/_smlocal/", "No endpoints yet. Start the emulator with an example endpoint"),
        ("/_smlocal/captures", "No endpoints, so no captures."),
        ("/_smlocal/monitoring", "No monitoring schedules. Suggest a baseline"),
        ("/_smlocal/jobs", "No training jobs. Fit an estimator"),
        ("/_smlocal/registry", "No model package groups. Register a model"),
    ],
)
def test_an_empty_page_says_what_to_do_next(path: str, says: str) -> None:
    status, _, page = get(console(lambda operation, params: EMPTY[operation]), path)
    assert status == 200
    assert says in page


def test_a_page_whose_source_is_down_is_a_plain_error_page() -> None:
    def down(operation: str, params: dict[str, Any]) -> dict[str, Any]:
        raise ConnectionRefusedError(111, "Connection refused")

    status, headers, page = get(console(down), "/_smlocal/jobs")
    assert status == 503
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Something is down ConnectionRefusedError: [Errno 111] Connection refused" in page
    assert "logs/emulator.log" in page


def test_every_template_and_asset_ships_in_the_package() -> None:
    import tomllib
    from fnmatch import fnmatch
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = data["package-data"]["smlocal.emulator.console"]
    folder = root / "emulator" / "console"
    files = [p.relative_to(folder).as_posix() for sub in ("templates", "static")
             for p in (folder / sub).iterdir()]  # fmt: skip
    assert files
    assert [f for f in files if not any(fnmatch(f, p) for p in patterns)] == []


def test_a_page_that_cannot_be_rendered_still_answers() -> None:
    handler = console(lambda operation, params: EMPTY[operation])
    handler.templates.get_template = lambda name: 1 / 0  # type: ignore[method-assign]
    status, headers, page = get(handler, "/_smlocal/jobs")
    assert (status, headers["Content-Type"]) == (500, "text/plain; charset=utf-8")
    assert "The console could not render this page; see logs/emulator.log." in page
