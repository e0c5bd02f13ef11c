"""`smlocal monitor report`: one self-contained HTML page per monitoring execution.

The page (see `report_html`) shows the execution's status, its violations, and for every
feature the baseline and current distributions side by side with their key numbers; a
model-quality execution's page (see `quality_report`) shows its metrics beside the baseline's.

Inputs are local paths or `s3://` URIs; S3 is read with a default boto3 client, so it goes to
whatever the environment configures (`AWS_ENDPOINT_URL` for the emulator or another store).

The emulator calls `write_report(execution_dir, baseline_statistics, output)` after each
monitoring execution.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from smlocal.capture_sink.keys import parse_s3_uri
from smlocal.model_monitor.contract import CONSTRAINTS, STATISTICS, VIOLATIONS
from smlocal.model_monitor.errors import AnalysisError
from smlocal.model_monitor.quality_report import (
    QualityDocuments,
    problem_of,
    render_quality_report,
)
from smlocal.model_monitor.report_data import ExecutionInfo, build_report
from smlocal.model_monitor.report_html import render_html
from smlocal.model_monitor.statistics import CheckedStatistics, check_statistics

REPORT = "report.html"
DEFAULT_TITLE = "Model Monitor report"
_HOUR_FOLDER = re.compile(r"(?:^|/)([^/]+)/([^/]+)/(\d{4})/(\d{2})/(\d{2})/(\d{2})/?$")


def read_text(location: str) -> str:
    """A file's text from a local path or an `s3://bucket/key` URI (FileNotFoundError if none)."""
    if not location.startswith("s3://"):
        return Path(location).read_text(encoding="utf-8")
    import boto3
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
    )

    where = parse_s3_uri(location)
    try:
        response = boto3.client("s3").get_object(Bucket=where.bucket, Key=where.key)
        with response["Body"] as body:
            data: bytes = body.read()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "NoSuchBucket", "404"):
            raise FileNotFoundError(f"No such object: {location}") from None
        raise OSError(f"Cannot read {location}: {exc}") from None
    except (EndpointConnectionError, NoCredentialsError):
        raise  # the command line says these plainly, as for every command (cli_common)
    except BotoCoreError as exc:
        raise OSError(f"Cannot read {location}: {exc}") from None
    return data.decode("utf-8")


def _join(folder: str, name: str) -> str:
    if folder.startswith("s3://"):
        return f"{folder.rstrip('/')}/{name}"
    return str(Path(folder) / name)


@dataclass(frozen=True)
class ReportSources:
    """Where the report's input files are: local paths or `s3://` URIs."""

    statistics: str
    violations: str
    baseline_statistics: str  # "" when not given (a model-quality page does without)
    constraints: str | None = None  # the execution's own (suggested) constraints: listed only
    baseline_constraints: str | None = None

    @classmethod
    def from_execution(
        cls,
        folder: str | Path,
        baseline_statistics: str | Path,
        baseline_constraints: str | Path | None = None,
    ) -> ReportSources:
        """The three output files of an execution folder, and the baseline's files."""
        where = str(folder)
        return cls(
            statistics=_join(where, STATISTICS),
            violations=_join(where, VIOLATIONS),
            baseline_statistics=str(baseline_statistics),
            constraints=_join(where, CONSTRAINTS),
            baseline_constraints=None
            if baseline_constraints is None
            else str(baseline_constraints),
        )

    def listed(self) -> tuple[tuple[str, str], ...]:
        """(what, location) of each file, for the page's footer."""
        pairs = (
            ("Statistics", self.statistics),
            ("Constraint violations", self.violations),
            ("Constraints", self.constraints),
            ("Baseline statistics", self.baseline_statistics),
            ("Baseline constraints", self.baseline_constraints),
        )
        return tuple((what, where) for what, where in pairs if where)


def _document(location: str | None, what: str, *, may_be_absent: bool = False) -> Any | None:
    """A parsed JSON file; None when no location is given (or, if allowed, no file is there)."""
    if location is None:
        return None
    try:
        text = read_text(location)
    except FileNotFoundError:
        if may_be_absent:
            return None
        raise AnalysisError(f"The {what} file {location} does not exist") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise AnalysisError(f"The {what} file {location} is not valid JSON: {exc}") from None


def _statistics(location: str, what: str) -> CheckedStatistics:
    """A parsed statistics.json, checked (build_report does not check it again); AnalysisError
    naming the file and what in it is of the wrong JSON type."""
    return check_statistics(_document(location, what), f"The {what} file {location}")


def execution_info(folder: str | Path) -> ExecutionInfo:
    """Endpoint, schedule and hour from a `.../{endpoint}/{schedule}/yyyy/mm/dd/hh` folder."""
    match = _HOUR_FOLDER.search(str(folder).replace("\\", "/"))
    if not match:
        return ExecutionInfo()
    endpoint, schedule, year, month, day, hour_of_day = match.groups()
    try:
        hour = datetime(int(year), int(month), int(day), int(hour_of_day), tzinfo=UTC)
    except ValueError:
        return ExecutionInfo()
    return ExecutionInfo(endpoint_name=endpoint, schedule_name=schedule, scheduled_hour=hour)


def default_title(info: ExecutionInfo) -> str:
    """`Model Monitor report: endpoint / schedule, hour` with what is known."""
    names = " / ".join(n for n in (info.endpoint_name, info.schedule_name) if n)
    when = info.start_time or info.scheduled_hour
    detail = ", ".join(part for part in (names, when and f"{when:%Y-%m-%d %H:%M} UTC") if part)
    return f"{DEFAULT_TITLE}: {detail}" if detail else DEFAULT_TITLE


def render_report(
    sources: ReportSources, *, title: str | None = None, info: ExecutionInfo | None = None
) -> str:
    """The report page for the files in `sources` (AnalysisError if one is missing or bad)."""
    current = _document(sources.statistics, "statistics")
    if problem_of(current) is not None:
        return _quality_report(sources, current, title, info or ExecutionInfo())
    if not sources.baseline_statistics:
        raise ValueError(
            "a data-quality report needs the baseline's statistics.json (--baseline-statistics)"
        )
    documents = {
        "statistics": check_statistics(current, f"The statistics file {sources.statistics}"),
        "violations": _document(sources.violations, "constraint violations"),
        "baseline_statistics": _statistics(sources.baseline_statistics, "baseline statistics"),
        "baseline_constraints": _document(sources.baseline_constraints, "baseline constraints"),
    }
    # The execution's own constraints.json (suggested from the current data) adds nothing the
    # statistics lack; it is only checked and listed, and may be absent.
    constraints = _document(sources.constraints, "constraints", may_be_absent=True)
    listed = sources.listed()
    if constraints is None:
        listed = tuple(pair for pair in listed if pair != ("Constraints", sources.constraints))
    info = replace(info or ExecutionInfo(), sources=listed)
    report = build_report(**documents, title=title or default_title(info), info=info)
    return render_html(report)


def _quality_report(
    sources: ReportSources, current: Any, title: str | None, info: ExecutionInfo
) -> str:
    """A model-quality execution's page; its baseline files are optional."""
    baseline = sources.baseline_statistics
    docs = QualityDocuments(
        statistics=current,
        violations=_document(sources.violations, "constraint violations"),
        baseline_statistics=_document(baseline or None, "baseline statistics"),
        baseline_constraints=_document(sources.baseline_constraints, "baseline constraints"),
    )
    listed = tuple(pair for pair in sources.listed() if pair[0] != "Constraints")
    info = replace(info, sources=listed)
    return render_quality_report(docs, title=title or default_title(info), info=info)


def write_report(
    execution_dir: Path,
    baseline_statistics: Path,
    output: Path,
    *,
    title: str | None = None,
    baseline_constraints: Path | None = None,
    info: ExecutionInfo | None = None,
) -> Path:
    """Write the report of the execution whose outputs are in `execution_dir`; returns `output`.

    Endpoint, schedule and hour come from `info`, else from the folder's
    `{endpoint}/{schedule}/yyyy/mm/dd/hh` layout when it has one.
    """
    sources = ReportSources.from_execution(execution_dir, baseline_statistics, baseline_constraints)
    page = render_report(sources, title=title, info=info or execution_info(execution_dir))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(page, encoding="utf-8")
    return output
