"""The console's Monitoring, Jobs and Registry pages, and each monitoring execution's report.

The report is the page `smlocal monitor report` writes (model_monitor.report), rendered from
the execution's outputs and its baseline as they are in S3.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from smlocal.capture_sink.keys import parse_s3_uri
from smlocal.emulator.console import reads
from smlocal.emulator.console.page import REPORT_CSP, Page
from smlocal.emulator.console.sources import Sources
from smlocal.emulator.wire.http_server import Request
from smlocal.model_monitor.contract import CONSTRAINTS, STATISTICS, VIOLATIONS
from smlocal.model_monitor.errors import AnalysisError
from smlocal.model_monitor.report_data import FeatureView, feature_side
from smlocal.model_monitor.report_html import figure

if TYPE_CHECKING:
    from smlocal.emulator.console.app import Console

EXECUTIONS = 20  # executions shown per schedule


def ROUTES(name: str, job: str) -> list[tuple[str, str, Any]]:
    """The pages of this module (see views.routes)."""
    return [
        ("GET", "/_smlocal/monitoring", monitoring_page),
        ("GET", f"/_smlocal/monitoring/{name}", schedule_page),
        ("GET", f"/_smlocal/monitoring/executions/{job}/report", report_page),
        ("GET", "/_smlocal/jobs", jobs_page),
        ("GET", f"/_smlocal/jobs/training/{job}", training_page),
        ("GET", f"/_smlocal/jobs/processing/{job}", processing_page),
        ("GET", "/_smlocal/registry", registry_page),
        ("GET", f"/_smlocal/registry/{name}", group_page),
    ]


def monitoring_page(console: Console, request: Request) -> Page:
    """Every schedule with its last execution."""
    sources = console.sources
    schedules = [
        sources.call("DescribeMonitoringSchedule", MonitoringScheduleName=name)
        for name in (
            s["MonitoringScheduleName"]
            for s in sources.every("ListMonitoringSchedules", "MonitoringScheduleSummaries")
        )
    ]
    return console.render("monitoring.html", page="monitoring", schedules=schedules)


def schedule_page(console: Console, request: Request, name: str) -> Page:
    """A schedule: its executions with status and violations, baseline next to latest."""
    sources = console.sources
    schedule = sources.call("DescribeMonitoringSchedule", MonitoringScheduleName=name)
    executions = sources.call(
        "ListMonitoringExecutions", MonitoringScheduleName=name, SortBy="ScheduledTime",
        SortOrder="Descending", MaxResults=EXECUTIONS,
    )["MonitoringExecutionSummaries"]  # fmt: skip
    rows, latest = [], None
    for execution in executions:
        job = _job_of(sources, execution)
        outputs = _outputs(sources, job)
        violations = reads.json_document(sources, f"{outputs}/{VIOLATIONS}") if outputs else None
        rows.append({**execution, "Job": job, "Violations": _violations(violations)})
        if latest is None and outputs and job:
            latest = (job, reads.json_document(sources, f"{outputs}/{STATISTICS}"))
    baseline_uri = _input(latest[0], "baseline") if latest else None
    baseline = reads.json_document(sources, baseline_uri) if baseline_uri else None
    features = compare(baseline, latest[1] if latest else None)
    return console.render("schedule.html", page="monitoring", schedule=schedule,
                          executions=rows, features=features)  # fmt: skip


def _job_of(sources: Sources, execution: dict[str, Any]) -> dict[str, Any] | None:
    arn = execution.get("ProcessingJobArn")
    if not arn:
        return None
    return sources.call("DescribeProcessingJob", ProcessingJobName=arn.rsplit("/", 1)[-1])


def _outputs(sources: Sources, job: dict[str, Any] | None) -> str | None:
    """The execution's output folder in S3."""
    if job is None:
        return None
    outputs = job.get("ProcessingOutputConfig", {}).get("Outputs", [])
    return str(outputs[0]["S3Output"]["S3Uri"]).rstrip("/") if outputs else None


def _input(job: dict[str, Any], name: str) -> str | None:
    for item in job.get("ProcessingInputs", []):
        if item.get("InputName") == name:
            return str(item["S3Input"]["S3Uri"])
    return None


def _violations(document: Any) -> list[dict[str, Any]] | None:
    if not isinstance(document, dict):
        return None
    return [v for v in document.get("violations", []) if isinstance(v, dict)]


def compare(baseline: Any, latest: Any) -> list[dict[str, Any]]:
    """Per feature: its type and key numbers in the baseline and in the latest execution,
    and the two charts of its distribution the report draws (numeric features)."""
    sides = {"baseline": _by_name(baseline), "latest": _by_name(latest)}
    names = list(dict.fromkeys([*sides["baseline"], *sides["latest"]]))
    return [
        {
            "name": n,
            **{side: _numbers(found.get(n)) for side, found in sides.items()},
            "plots": _plots(n, sides["baseline"].get(n), sides["latest"].get(n)),
        }
        for n in names
    ]


def _plots(name: str, baseline: dict[str, Any] | None, latest: dict[str, Any] | None) -> Markup:
    """The report's baseline and current figures of a numeric feature (escaped SVG), or ''."""
    base, now = (feature_side(f) if f else None for f in (baseline, latest))
    if not any(side is not None and side.numeric for side in (base, now)):
        return Markup("")
    view = FeatureView(name, base, now)
    return Markup(figure(view, "baseline") + figure(view, "current"))


def _by_name(document: Any) -> dict[str, dict[str, Any]]:
    features = document.get("features", []) if isinstance(document, dict) else []
    return {str(f.get("name")): f for f in features if isinstance(f, dict)}


def _numbers(feature: dict[str, Any] | None) -> dict[str, Any] | None:
    if feature is None:
        return None
    stats = feature.get("numerical_statistics") or feature.get("string_statistics") or {}
    common = stats.get("common", {})
    return {
        "type": feature.get("inferred_type"),
        "present": common.get("num_present"),
        "missing": common.get("num_missing"),
        "mean": stats.get("mean"),
        "min": stats.get("min"),
        "max": stats.get("max"),
        "distinct": stats.get("distinct_count"),
    }


def report_page(console: Console, request: Request, job_name: str) -> Page:
    """An execution's report page (model_monitor.report), from its files in S3."""
    from smlocal.model_monitor.report import ReportSources, execution_info, render_report

    sources = console.sources
    job = sources.call("DescribeProcessingJob", ProcessingJobName=job_name)
    outputs, baseline = _outputs(sources, job), _input(job, "baseline")
    model_quality = (job.get("Environment") or {}).get("analysis_type") == "MODEL_QUALITY"
    if outputs is None or (baseline is None and not model_quality):  # its page needs none
        why = "This job is not a monitoring execution with a baseline."
        return console.render("error.html", title="No report", message=why)
    with tempfile.TemporaryDirectory(prefix="smlocal-console-") as scratch:
        folder = Path(scratch)
        files = {
            "statistics": f"{outputs}/{STATISTICS}",
            "violations": f"{outputs}/{VIOLATIONS}",
            "constraints": f"{outputs}/{CONSTRAINTS}",
            "baseline_statistics": baseline,
            "baseline_constraints": _input(job, "constraints"),
        }
        local = {k: _download(sources, uri, folder / k) for k, uri in files.items() if uri}
        try:
            page = render_report(
                ReportSources(
                    **{"baseline_statistics": "", **{k: str(v) for k, v in local.items()}}
                ),
                info=execution_info(outputs),
            )
        except AnalysisError as exc:  # no statistics: the execution failed or wrote nothing
            return console.render("error.html", title="No report", message=str(exc), status=404)
    return Page(body=page.encode(), csp=REPORT_CSP)


def _download(sources: Sources, uri: str, path: Path) -> Path:
    """An S3 object into a local file (absent: the path stays absent, the report says so)."""
    where = parse_s3_uri(uri)
    s3 = sources.client("s3")
    try:
        s3.download_file(where.bucket, where.key, str(path))
    except Exception as exc:  # the report names the missing file
        if "404" not in str(exc) and "NoSuchKey" not in str(exc):
            raise
    return path


def jobs_page(console: Console, request: Request) -> Page:
    """Training and processing jobs, newest first."""
    sources = console.sources
    order = {"SortBy": "CreationTime", "SortOrder": "Descending"}
    training = sources.every("ListTrainingJobs", "TrainingJobSummaries", **order)
    processing = sources.every("ListProcessingJobs", "ProcessingJobSummaries", **order)
    return console.render("jobs.html", page="jobs", training=training, processing=processing)


def training_page(console: Console, request: Request, name: str) -> Page:
    """A training job: status transitions, metrics and log streams."""
    job = console.sources.call("DescribeTrainingJob", TrainingJobName=name)
    name = job["TrainingJobName"]
    logs = reads.log_tail(console.sources, "/aws/sagemaker/TrainingJobs", f"{name}/")
    job_status = job.get("TrainingJobStatus")
    return console.render(
        "job.html",
        page="jobs",
        kind="Training",
        job=job,
        logs=logs,
        job_status=job_status,
        name=name,
    )


def processing_page(console: Console, request: Request, name: str) -> Page:
    """A processing job: its times and status, and its log streams."""
    job = console.sources.call("DescribeProcessingJob", ProcessingJobName=name)
    name = job["ProcessingJobName"]
    logs = reads.log_tail(console.sources, "/aws/sagemaker/ProcessingJobs", f"{name}/")
    job_status = job.get("ProcessingJobStatus")
    return console.render(
        "job.html",
        page="jobs",
        kind="Processing",
        job=job,
        logs=logs,
        job_status=job_status,
        name=name,
    )


def registry_page(console: Console, request: Request) -> Page:
    """Model package groups."""
    groups = console.sources.every(
        "ListModelPackageGroups", "ModelPackageGroupSummaryList", SortBy="CreationTime",
        SortOrder="Descending",
    )  # fmt: skip
    return console.render("registry.html", page="registry", groups=groups)


def group_page(console: Console, request: Request, name: str) -> Page:
    """A model package group's packages with their approval status."""
    group = console.sources.call("DescribeModelPackageGroup", ModelPackageGroupName=name)
    packages = console.sources.every(
        "ListModelPackages", "ModelPackageSummaryList", ModelPackageGroupName=name,
        SortBy="CreationTime", SortOrder="Descending",
    )  # fmt: skip
    return console.render("group.html", page="registry", group=group, packages=packages)
