"""The analyzer job: the `sagemaker-model-monitor-analyzer` container's contract, on local paths.

`run_analysis(environment)` reads the container's environment keys (see `environment`), and:

* baseline job (no baseline files given): writes `constraints.json` and `statistics.json`;
* monitoring execution (`baseline_statistics` and/or `baseline_constraints` given): also
  evaluates the checks and writes `constraint_violations.json` (even when empty), plus
  `constraints.json` suggested from the current data, as the real analyzer does.

Files are written to a staging folder inside `output_path` and moved into place only when
everything succeeded, so a failed job leaves no partial outputs. The one-line status (or the
failure reason) goes to the message file, like `/opt/ml/output/message`, and into `JobResult`.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from smlocal.model_monitor import checks, jackson, layout, log_lines, quality_job, sources
from smlocal.model_monitor.constraints import (
    BaselineConstraints,
    MonitoringConfig,
    parse_constraints,
    suggest_constraints,
)
from smlocal.model_monitor.contract import (
    COMPLETED,
    CONSTRAINTS,
    FAILED,
    STATISTICS,
    VIOLATIONS,
    WITH_VIOLATIONS,
    exit_message,
)
from smlocal.model_monitor.environment import SPARK, AnalyzerInput, Location
from smlocal.model_monitor.errors import NO_DATA, AnalysisError
from smlocal.model_monitor.metrics import MetricRecord, feature_metrics
from smlocal.model_monitor.preprocessing import postprocess_handler
from smlocal.model_monitor.profile import DatasetProfile, build_profile
from smlocal.model_monitor.statistics import (
    BaselineFeatureStatistics,
    parse_statistics,
    statistics_document,
)


@dataclass(frozen=True)
class JobResult:
    """How a job ended and what it produced."""

    status: str  # Completed | CompletedWithViolations | Failed
    message: str  # the message-file line: ExitMessage, or FailureReason when Failed
    violation_count: int = 0
    files: tuple[Path, ...] = ()
    metrics: tuple[MetricRecord, ...] = ()
    warnings: tuple[str, ...] = ()  # smlocal's own explanations (e.g. `layout`), not files


class JobLog:
    """Log lines shaped like the real job's: the Python wrapper's and the Spark analyzer's."""

    def __init__(self, sink: Callable[[str], None] | None) -> None:
        self._sink = sink or logging.getLogger("smlocal.model_monitor.job").info

    def wrapper(self, message: str, level: str = "INFO") -> None:
        """A line of the container's Python wrapper (`DefaultDataAnalyzer`)."""
        now = datetime.now(UTC)
        stamp = f"{now:%Y-%m-%d %H:%M:%S},{now.microsecond // 1000:03d}"
        self._sink(f"{stamp} - DefaultDataAnalyzer - {level} - {message}")

    def analyzer(self, source: str, message: str, level: str = "INFO") -> None:
        """A line of the analyzer itself (e.g. `DataAnalyzer`, `FileUtil`)."""
        self._sink(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} {level:<5} {source} - {message}")


def _load_json(path: Location, what: str) -> Any:
    from smlocal.model_monitor.report import read_text  # a local file or an s3:// object

    try:
        text = read_text(str(path))
    except FileNotFoundError:
        raise AnalysisError(f"Baseline {what} file {path} does not exist") from None
    except OSError as exc:
        raise AnalysisError(f"Baseline {what} file {path} cannot be read: {exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise AnalysisError(f"Baseline {what} file {path} is not valid JSON: {exc}") from None


class _ToJobLog(logging.Handler):
    """Forwards a user script's `logger` records into the job's log."""

    def __init__(self, log: JobLog) -> None:
        super().__init__()
        self._log = log

    def emit(self, record: logging.LogRecord) -> None:
        self._log.wrapper(f"preprocessor: {record.getMessage()}", record.levelname)


@contextmanager
def _script_logger(log: JobLog) -> Iterator[logging.Logger]:
    """The `logger` handed to a preprocessor running in this process, logging into the job."""
    logger = logging.getLogger(f"model_monitor.preprocessor.{id(log)}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = _ToJobLog(log)
    logger.addHandler(handler)
    try:
        yield logger
    finally:
        logger.removeHandler(handler)


@contextmanager
def _script_environment(entries: Mapping[str, str]) -> Iterator[None]:
    """Export the job's non-analyzer entries for user scripts, restoring os.environ after.

    Only done when the job has a script, since os.environ is shared by the whole process.
    """
    saved = {key: os.environ.get(key) for key in entries}
    os.environ.update(entries)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dataclass(frozen=True)
class _Baseline:
    statistics: list[BaselineFeatureStatistics] | None
    constraints: BaselineConstraints | None

    @classmethod
    def load(cls, job: AnalyzerInput) -> _Baseline:
        stats = constraints = None
        if job.baseline_statistics:
            path = job.baseline_statistics
            document = _load_json(path, "statistics")
            stats = parse_statistics(document, f"Baseline statistics file {path}")
        if job.baseline_constraints:
            constraints = parse_constraints(_load_json(job.baseline_constraints, "constraints"))
        return cls(stats, constraints)

    @property
    def names(self) -> list[str]:
        if self.statistics is not None:
            return [f.name for f in self.statistics]
        return [f.name for f in self.constraints.features] if self.constraints else []

    @property
    def watch(self) -> tuple[str, ...] | None:
        if not self.constraints:
            return None
        return tuple(sorted({d for f in self.constraints.features for d in f.domains or ()}))


def _metrics(
    job: AnalyzerInput, profile: DatasetProfile, baseline: _Baseline, drift: Mapping[str, float]
) -> tuple[MetricRecord, ...]:
    constraints = baseline.constraints
    config = constraints.config if constraints else MonitoringConfig()
    if not job.publish_cloudwatch_metrics or not config.emit_metrics:
        return ()

    def emits(name: str) -> bool:
        feature = constraints.feature(name) if constraints else None
        return feature.config.emit_metrics if feature else config.emit_metrics

    timestamp = job.metric_time or job.end_time or datetime.now(UTC)
    records = feature_metrics(
        profile,
        drift,
        timestamp=timestamp,
        endpoint=job.endpoint_name,
        schedule=job.schedule_name,
        emits=emits,
    )
    return tuple(records)


def _evaluate(
    profile: DatasetProfile, baseline: _Baseline, names: list[str], log: JobLog
) -> checks.Evaluation:
    log.analyzer(log_lines.EVALUATING_CONSTRAINTS, "Evaluating constraints")
    distance_lines: list[str] = []  # the real log has them between the two "Evaluating" lines
    evaluation = checks.evaluate(
        profile,
        baseline_names=names,
        statistics=baseline.statistics,
        constraints=baseline.constraints,
        log=distance_lines.append,
    )
    for line in distance_lines:
        log.analyzer(log_lines.DISTANCE, line)
    log.analyzer(log_lines.EVALUATING_STATS, "Evaluating stats")
    found = jackson.dumps(violations_document(evaluation))
    log.analyzer(log_lines.VIOLATIONS, f"Constraint and Stats violations: {found}")
    return evaluation


def violations_document(evaluation: checks.Evaluation) -> dict[str, Any]:
    """The `constraint_violations.json` document."""
    return {"violations": [v.document() for v in evaluation.ordered()]}


def _explain_layout(
    job: AnalyzerInput, names: list[str], profile: DatasetProfile, log: JobLog
) -> tuple[str, ...]:
    """smlocal's note when the baseline's columns do not line up with the rows (`layout`)."""
    note = layout.explain(job, len(names), len(profile.features)) if names else None
    if note is None:
        return ()
    log.analyzer(layout.LOG_SOURCE, note, "WARN")
    return (note,)


def _analyse(
    job: AnalyzerInput,
    log: JobLog,
    progress: Callable[[int], None] | None,
    workers: int | None,
    spark: Any = None,
) -> JobResult:
    baseline = _Baseline.load(job) if job.monitoring else _Baseline(None, None)
    if spark is not None or job.engine == SPARK:
        where = "the given SparkSession" if spark is not None else f"master {job.spark_master}"
        log.wrapper(f"Analysing on Spark, {where}")
    with _script_logger(log) as logger:
        analysed = sources.analyse(
            job,
            watch=baseline.watch,
            workers=workers,
            progress=progress,
            logger=logger,
            session=spark,
        )
    if analysed.state.rows == 0:
        raise AnalysisError(NO_DATA)
    if names := baseline.names:
        log.analyzer(
            log_lines.USING_BASELINE_COLUMNS, f"Using baseline columns: {', '.join(names)}"
        )
    profile = build_profile(analysed.state, analysed.order, names)
    warnings = _explain_layout(job, names, profile, log)
    config = MonitoringConfig()
    if job.categorical_drift_method:  # the one monitoring_config value the environment sets
        config = MonitoringConfig(categorical_drift_method=job.categorical_drift_method)
    log.analyzer(log_lines.GENERATING_CONSTRAINTS, "Generating Constraints:")
    documents: dict[str, Any] = {CONSTRAINTS: suggest_constraints(profile, config)}
    log.analyzer(log_lines.CONSTRAINTS, f"Constraints: {jackson.dumps(documents[CONSTRAINTS])}")
    log.analyzer(log_lines.GENERATING_STATS, "Generating Stats:")
    documents[STATISTICS] = statistics_document(profile)
    # The real analyzer prints the whole statistics here too; with every sketch that is too
    # big for a log event, so only its outline is logged (the file has it all).
    outline = f"{len(profile.features)} features, item_count {profile.item_count}"
    log.analyzer(log_lines.STATS, f"Stats: {outline}")
    if not job.monitoring:
        written = _write(job.output_path, documents, log)
        return JobResult(COMPLETED, exit_message(0), 0, written)
    evaluation = _evaluate(profile, baseline, names, log)
    documents[VIOLATIONS] = violations_document(evaluation)
    written = _write(job.output_path, documents, log)
    metrics = _metrics(job, profile, baseline, evaluation.drift)
    count = len(evaluation.violations)
    status = WITH_VIOLATIONS if count else COMPLETED
    return JobResult(status, exit_message(count), count, written, metrics, warnings)


def _write(output: Path, documents: Mapping[str, Any], log: JobLog) -> tuple[Path, ...]:
    """Write all files to a staging folder, then move them into `output` together."""
    output.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".smlocal-staging-", dir=output))
    try:
        for name, document in documents.items():
            (staging / name).write_text(jackson.dumps(document), encoding="utf-8")
        written = []
        for name in documents:
            os.replace(staging / name, output / name)
            log.analyzer(log_lines.WRITE_FILE, f"Write to file {name} at path {output}.")
            written.append(output / name)
        return tuple(written)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _analyse_model_quality(job: AnalyzerInput, log: JobLog) -> JobResult:
    """A model-quality baseline or execution (see `quality_job`)."""
    outcome = quality_job.analyse(job, lambda line: log.analyzer(log_lines.MODEL_QUALITY, line))
    written = _write(job.output_path, outcome.documents, log)
    count = outcome.violations
    status = WITH_VIOLATIONS if count else COMPLETED
    return JobResult(status, exit_message(count), count, written, outcome.metrics)


def _run(
    job: AnalyzerInput,
    log: JobLog,
    progress: Callable[[int], None] | None,
    workers: int | None,
    spark: Any,
) -> JobResult:
    post = None
    if job.post_analytics_processor_script:
        post = postprocess_handler(job.post_analytics_processor_script)
    if job.model_quality:
        result = _analyse_model_quality(job, log)
    else:
        result = _analyse(job, log, progress, workers, spark)
    if post is not None:
        log.wrapper("Invoking customer's post-processing script...")
        post()
    return result


def run_analysis(
    environment: Mapping[str, str],
    *,
    message_file: Path | None = None,
    log: Callable[[str], None] | None = None,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
    spark: Any = None,
) -> JobResult:
    """Run a baseline job or a monitoring execution as the analyzer container would.

    `progress` is called with each increment of work done: bytes for file datasets, rows for
    captures; `workers` is the number of processes for file datasets (default: this one alone
    below 24 MiB of input, the CPUs above; see `engine.plan_workers`). A data-quality job runs
    on Spark in `spark` (a SparkSession or SparkContext, left running) when given, or when the
    environment says `smlocal_engine=spark` (see `spark_engine`).
    """
    journal = JobLog(log)
    try:
        job = AnalyzerInput.from_environment(environment)
        journal.wrapper(f"Performing analysis with input: {json.dumps(job.log_document())}")
        scripts = job.record_preprocessor_script or job.post_analytics_processor_script
        with _script_environment(job.user_environment if scripts else {}):
            result = _run(job, journal, progress, workers, spark)
        main = (
            log_lines.COMPLETED
            if result.status == COMPLETED
            else log_lines.COMPLETED_WITH_VIOLATIONS
        )
        journal.analyzer(main, result.message)
        journal.wrapper("Spark job completed.")
    except Exception as exc:  # the container's own boundary: any failure becomes the reason
        if not isinstance(exc, AnalysisError | NotImplementedError):
            journal.wrapper(traceback.format_exc().rstrip(), "ERROR")
        reason = str(exc)
        journal.wrapper(f"Exception performing analysis: {reason}", "ERROR")
        result = JobResult(FAILED, reason)
    if message_file is not None:
        message_file.parent.mkdir(parents=True, exist_ok=True)
        message_file.write_text(result.message, encoding="utf-8")
        if result.status != FAILED:
            journal.analyzer(log_lines.WRITE_MESSAGE, f"Write to file {message_file}.")
    return result
