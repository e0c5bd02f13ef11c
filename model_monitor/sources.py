"""From a job's dataset settings to a dataset state: which reader, which partitions.

* CSV and JSON datasets (a file or a folder of files) are cut into file partitions;
  CSV columns keep the file's order, JSON keys are sorted (as Spark's JSON schema is).
* Capture folders are read file by file for the `[start_time, end_time)` window (see
  `capture_engine`, in worker processes when large); rows are positional (`_c<i>`: outputs,
  then inputs).
* With a record preprocessor, its dicts become rows and their keys, sorted, the columns.

For a CSV dataset with a preprocessor the header line (when there is one) is not passed to
the script; `output_columns_position` is validated but changes nothing here.

With `smlocal_engine=spark` (or a SparkSession given), the same partitions are analysed by
Spark's executors (see `spark_engine`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from smlocal.capture_sink.reader import optional_utc
from smlocal.model_monitor import capture_engine, engine, files, objects, spark_engine
from smlocal.model_monitor.capture_files import ReadSpec
from smlocal.model_monitor.environment import CAPTURE, CSV, SPARK, AnalyzerInput
from smlocal.model_monitor.preprocessing import Preprocessor, captured_rows
from smlocal.model_monitor.profile import column_order
from smlocal.model_monitor.state import DatasetState


@dataclass(frozen=True)
class Analysed:
    """A dataset's state and the order its columns are reported in."""

    state: DatasetState
    order: list[str]


def _order_kind(job: AnalyzerInput) -> str:
    if job.record_preprocessor_script or job.dataset_format.kind not in (CSV, CAPTURE):
        return "sorted"
    return "positional" if job.dataset_format.kind == CAPTURE else "appearance"


def _captures(
    job: AnalyzerInput,
    watch: tuple[str, ...] | None,
    workers: int | None,
    progress: engine.Progress | None,
    logger: logging.Logger | None,
    *,
    spark: spark_engine.SparkRun | None = None,
) -> DatasetState:
    source = job.dataset_source  # a folder, or an s3:// prefix that capture_sink lists
    if isinstance(source, Path) and not source.is_dir():
        raise FileNotFoundError(f"Capture folder {source} does not exist")
    spec = ReadSpec(
        optional_utc(job.start_time),
        optional_utc(job.end_time),
        job.dataset_format.index_names,
        job.max_columns,
    )
    if spark is not None:
        given = job.record_preprocessor_script
        if given:  # fail early, in this process, on a bad script
            Preprocessor(given, logger)
        plan = spark_engine.CaptureJob(spec, str(given) if given else None, watch)
        found = capture_engine.capture_files(source, spec)
        return spark_engine.analyze_captures(
            spark, found, plan, progress=progress, partition_rows=engine.PARTITION_ROWS
        )
    if job.record_preprocessor_script:  # the script sees each record, in this process
        script = Preprocessor(job.record_preprocessor_script, logger, job.max_columns)
        array = None if watch is None else pa.array(watch, pa.string())
        rows = captured_rows(job.dataset_source, job.start_time, job.end_time, script)
        return engine.analyze_rows(
            rows, watch=array, progress=progress, partition_rows=engine.PARTITION_ROWS
        )
    files = capture_engine.capture_files(source, spec)
    return capture_engine.analyze_captures(
        files,
        spec,
        workers=workers,
        watch=watch,
        progress=progress,
        partition_rows=engine.PARTITION_ROWS,
    )


def file_tasks(job: AnalyzerInput, watch: tuple[str, ...] | None) -> list[engine.FileTask]:
    """The partitions of a CSV or JSON dataset."""
    fmt = job.dataset_format
    paths = files.list_files(job.dataset_source)
    script = str(job.record_preprocessor_script) if job.record_preprocessor_script else None
    if fmt.kind == CSV:
        ranges = files.plan_ranges(paths, engine.PARTITION_BYTES)
        names = tuple(files.csv_names(paths, fmt.header, job.max_columns)) if not script else ()
    else:  # a JSON document that is not JSON Lines cannot be cut
        ranges = (
            files.plan_ranges(paths, engine.PARTITION_BYTES)
            if fmt.json_lines
            else [files.FileRange(str(p), 0, objects.size_of(p)) for p in paths]
        )
        names = ()
    partitions = files.pack(ranges, engine.PARTITION_BYTES)
    exact = len(partitions) == 1
    return [
        engine.FileTask(
            parts,
            fmt.kind,
            names,
            fmt.header,
            fmt.json_lines,
            script,
            exact=exact,
            watch=watch,
            max_columns=job.max_columns,
        )
        for parts in partitions
    ]


@contextmanager
def _spark(job: AnalyzerInput, session: Any) -> Iterator[spark_engine.SparkRun | None]:
    """Spark, when the job asks for it or a session is given; else None."""
    if session is None and job.engine != SPARK:
        yield None
        return
    plan = spark_engine.SparkPlan(job.spark_master, session)
    scripts = job.record_preprocessor_script or job.post_analytics_processor_script
    with spark_engine.spark_context(plan) as context:
        yield spark_engine.SparkRun(context, job.user_environment if scripts else {})


def analyse(
    job: AnalyzerInput,
    *,
    watch: tuple[str, ...] | None = None,
    workers: int | None = None,
    progress: engine.Progress | None = None,
    logger: logging.Logger | None = None,
    session: Any = None,
) -> Analysed:
    """Read and analyse the job's dataset (on Spark with `smlocal_engine=spark`, or in the
    caller's SparkSession or SparkContext `session`)."""
    with _spark(job, session) as spark:
        if job.dataset_format.kind == CAPTURE:
            state = _captures(job, watch, workers, progress, logger, spark=spark)
        else:
            if job.record_preprocessor_script:  # fail early, in this process, on a bad script
                Preprocessor(job.record_preprocessor_script, logger)
            tasks = file_tasks(job, watch)
            if spark is not None:
                state = spark_engine.analyze_files(spark, tasks, progress)
            else:
                state = engine.analyze_files(tasks, workers=workers, progress=progress)
    return Analysed(state, column_order(list(state.columns), _order_kind(job)))


def input_size(job: AnalyzerInput) -> int | None:
    """Bytes to read, when known up front (for progress bars)."""
    if job.dataset_format.kind == CAPTURE:
        return None
    return sum(objects.size_of(p) for p in files.list_files(job.dataset_source))
