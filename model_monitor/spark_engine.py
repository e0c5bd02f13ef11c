"""The Spark engine: the single-machine engine's partitions, analysed by Spark's executors.

Spark is another executor of the same per-partition functions, not a second analyzer. The
driver plans the partitions exactly as `engine` and `capture_engine` do, Spark runs one
task per partition (`engine.run_task`, `capture_engine.partition_state`: the same states,
zero/update), and the driver merges the states in partition order, as the single-machine
engine does. Same chunk boundaries, same merge order: the same state bit for bit, so the
same files byte for byte, whatever the master and the number of executors.

The merge is a left fold on the driver rather than Spark's `treeReduce`: floating-point
moments and KLL compaction are not associative, so a tree (whose shape follows the executors)
would change the last digits and the sketches. Merging a partition's state takes
milliseconds against the seconds it takes to compute, so the driver keeps up (see
docs/scale.md); states are fetched in waves of a few per core, so the driver holds a bounded
number whatever the input's size.

* CSV and JSON datasets: the `engine.FileTask`s of `sources.file_tasks`, one Spark task each.
* Capture files: a record's rows are only known once its file is read, and a partition is
  65,536 rows across file boundaries. A first Spark stage counts each file's rows (in the
  window, shadow records left out, through the preprocessor when there is one), the driver
  cuts the global row sequence into the single-machine engine's partitions, and a second
  stage reads each partition's slices of its files and analyses them. A file that straddles
  a boundary is read by both partitions, and every file twice in all: reading is cheap next
  to the analysis (docs/benchmarks.md). A preprocessor runs twice per record, so it should
  be a pure function of the record, as the container's contract expects.

Executors read files by path (a local folder must be at the same path on every executor: a
shared file system, or `local[...]`) and S3 objects with their own environment's AWS
settings (when smlocal starts Spark, the driver's `AWS_ENDPOINT_URL` is passed on).
"""

from __future__ import annotations

import functools
import math
import os
import pickle
import sys
import tempfile
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from smlocal.capture_sink.listing import CaptureFile, list_capture_files
from smlocal.model_monitor import capture_engine, engine
from smlocal.model_monitor.capture_files import CaptureSource, ReadSpec, Segment, file_segments
from smlocal.model_monitor.errors import AnalysisError
from smlocal.model_monitor.preprocessing import KeyedRow, Preprocessor, captured_rows
from smlocal.model_monitor.state import DatasetState

DEFAULT_MASTER = "local[*]"
SPARK_EXTRA = "pip install 'smlocal[spark]'"
# The driver's own log: errors only, on stderr (Spark's default says WARN and more at start)
LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
"""
WAVE_PER_CORE = 2  # partition states fetched per core and wave (the driver holds that many)


@dataclass(frozen=True)
class SparkPlan:
    """Where to run: an existing SparkSession or SparkContext, or a master to start one on."""

    master: str = DEFAULT_MASTER
    session: Any = None  # a pyspark SparkSession or SparkContext the caller owns


def _conf(master: str) -> Any:
    from pyspark import SparkConf

    conf = (
        SparkConf()
        .setMaster(master)
        .setAppName("smlocal-model-monitor")
        .set("spark.ui.enabled", "false")
        .set("spark.ui.showConsoleProgress", "false")
        .set("spark.driver.host", "127.0.0.1")
        .set("spark.driver.bindAddress", "127.0.0.1")
    )
    for key in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_DEFAULT_REGION", "PYTHONPATH"):
        if os.environ.get(key):
            conf.set(f"spark.executorEnv.{key}", os.environ[key])
    return conf


def _import_pyspark() -> Any:
    try:
        import pyspark
    except ImportError:
        raise AnalysisError(f"The Spark engine needs pyspark: {SPARK_EXTRA}") from None
    return pyspark


@contextmanager
def _launch_environment() -> Iterator[None]:
    """What pyspark and the JVM read from the environment as Spark starts: the executors'
    Python (this interpreter, unless PYSPARK_PYTHON says otherwise) and the address to bind
    (loopback), restored after."""
    wanted = {"PYSPARK_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    saved = {key: os.environ.get(key) for key in wanted}
    for key, value in wanted.items():
        os.environ.setdefault(key, value)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)


@contextmanager
def spark_context(plan: SparkPlan) -> Iterator[Any]:
    """The plan's SparkContext: the caller's (left running), or one started here and stopped
    after."""
    if plan.session is not None:
        yield getattr(plan.session, "sparkContext", plan.session)
        return
    pyspark = _import_pyspark()
    with tempfile.TemporaryDirectory(prefix="smlocal-spark-") as folder:
        logging = Path(folder) / "log4j2.properties"
        logging.write_text(LOG4J2, encoding="utf-8")
        conf = _conf(plan.master).set(
            "spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{logging}"
        )
        with _launch_environment(), warnings.catch_warnings():
            # pyspark warns that it does not support pandas 3 (which smlocal needs) in its
            # SQL helpers, which the engine does not use
            warnings.filterwarnings("ignore", category=FutureWarning, module="pyspark")
            try:
                context = pyspark.SparkContext(conf=conf)
            except Exception as exc:  # a JVM that does not start: RuntimeError or Py4J's
                raise AnalysisError(
                    f"Spark did not start on master {plan.master} (is the master URL right, "
                    f"and Java 17 or later installed?): {_headline(exc)}"
                ) from None
    context.setLogLevel("ERROR")
    try:
        yield context
    finally:
        context.stop()


def _headline(error: BaseException) -> str:
    """The first line of an error from Spark (Py4J's carry the whole Java stack)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return (lines[0] if lines else type(error).__name__)[:500]


@dataclass(frozen=True)
class _Failed:
    """A task's exception, carried back as a value so that it is raised on the driver in
    partition order with its own type and words (Spark would wrap it in a Java error)."""

    error: BaseException


def _guarded(function: Callable[..., Any], environment: dict[str, str]) -> Callable[..., Any]:
    """`function` returning its exception as a value, run with the job's entries for user
    scripts exported (as `job` exports them on the driver)."""

    def run(*arguments: Any) -> Any:
        saved = {key: os.environ.get(key) for key in environment}
        os.environ.update(environment)
        try:
            return function(*arguments)
        except Exception as exc:
            try:
                pickle.dumps(exc)
            except Exception:  # e.g. a user's exception holding a lock: its words still go
                return _Failed(RuntimeError(f"{type(exc).__name__}: {exc}"))
            return _Failed(exc)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    return run


def _value(result: Any) -> Any:
    if isinstance(result, _Failed):
        raise result.error
    return result


def _ordered(context: Any, rdd: Any, count: int) -> Iterator[Any]:
    """The rdd's elements (one per partition) in partition order, fetched in waves while the
    previous wave is consumed. Stopping early (a failure) cancels the wave under way, and
    only this run's jobs: the context may be the caller's."""
    wave = max(1, WAVE_PER_CORE * context.defaultParallelism)
    spans = [list(range(i, min(i + wave, count))) for i in range(0, count, wave)]
    group = f"smlocal-monitor-{uuid.uuid4()}"

    def fetch(span: list[int]) -> list[Any]:
        context.setJobGroup(group, "smlocal model monitor")
        try:
            return list(context.runJob(rdd, list, span))
        except Exception as exc:  # a worker that died, an executor lost: not the analysis's
            raise AnalysisError(f"A Spark job of the analysis failed: {_headline(exc)}") from None

    with ThreadPoolExecutor(max_workers=1) as ahead:
        try:
            pending = ahead.submit(fetch, spans[0]) if spans else None
            for span in spans[1:]:
                done = pending.result() if pending else []
                pending = ahead.submit(fetch, span)
                yield from map(_value, done)
            if pending is not None:
                yield from map(_value, pending.result())
        finally:
            context.cancelJobGroup(group)


@dataclass(frozen=True)
class SparkRun:
    """A running SparkContext, and the entries the job exports to user scripts."""

    context: Any
    environment: dict[str, str] = field(default_factory=dict)

    def each(self, items: Sequence[Any], function: Callable[..., Any]) -> Iterator[Any]:
        """`function` of each item, one Spark task per item, results in item order."""
        if not items:
            return iter(())
        task = _guarded(function, self.environment)
        rdd = self.context.parallelize(list(items), len(items)).map(task)
        return _ordered(self.context, rdd, len(items))


def analyze_files(
    spark: SparkRun, tasks: Sequence[engine.FileTask], progress: engine.Progress | None = None
) -> DatasetState:
    """`engine.analyze_files` with Spark's executors running the tasks."""
    result = DatasetState()
    for task, state in zip(tasks, spark.each(tasks, engine.run_task), strict=True):
        result = result.merge(state)
        if progress:
            progress(engine.task_bytes(task))
    return result


@dataclass(frozen=True)
class CaptureRef:
    """A capture file an executor reads itself (no content: S3 objects are read there)."""

    uri: str
    size: int
    hour: datetime | None


@dataclass(frozen=True)
class CaptureJob:
    """How every executor reads capture files (picklable)."""

    spec: ReadSpec
    preprocessor: str | None = None
    watch: tuple[str, ...] | None = None
    exact: bool = False


@dataclass(frozen=True)
class Slice:
    """Rows [start, stop) of a capture file."""

    file: CaptureRef
    start: int
    stop: int


def _listed(ref: CaptureRef) -> CaptureFile:
    if ref.uri.startswith("s3://"):
        return list_capture_files(ref.uri)[0]
    path = Path(ref.uri)
    return CaptureFile(ref.uri, ref.size, ref.hour, path.read_bytes)


def _segments(ref: CaptureRef, job: CaptureJob) -> list[Segment]:
    return file_segments(CaptureSource.of(_listed(ref)), job.spec)


@functools.lru_cache(maxsize=4)
def _script(path: str, max_columns: int) -> Preprocessor:
    """The preprocessor, loaded once per executor process (as the container loads it once)."""
    return Preprocessor(Path(path), max_columns=max_columns)


def _script_rows(ref: CaptureRef, job: CaptureJob) -> list[KeyedRow]:
    assert job.preprocessor is not None
    script = _script(job.preprocessor, job.spec.max_columns)
    return list(captured_rows(ref.uri, job.spec.start, job.spec.end, script))


def count_rows(ref: CaptureRef, job: CaptureJob) -> int:
    """A file's rows (runs in an executor)."""
    if job.preprocessor:
        return len(_script_rows(ref, job))
    return sum(len(segment) for segment in _segments(ref, job))


def _batches(refs: Sequence[CaptureRef]) -> list[list[CaptureRef]]:
    """Consecutive files up to `capture_engine.READ_BYTES` a batch (one counting task each)."""
    batches: list[list[CaptureRef]] = []
    size = 0
    for ref in refs:
        if not batches or size + ref.size > capture_engine.READ_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(ref)
        size += ref.size
    return batches


def _sliced(segments: Sequence[Segment], start: int, stop: int) -> list[Segment]:
    """Items [start, stop) of a file's segments, as segments."""
    kept: list[Segment] = []
    offset = 0
    for segment in segments:
        low, high = max(start - offset, 0), min(stop - offset, len(segment))
        if low < high:
            kept.append(segment[low:high])
        offset += len(segment)
    return kept


def slice_state(slices: Sequence[Slice], job: CaptureJob) -> DatasetState:
    """One partition's state, as the single-machine engine builds it (runs in an executor)."""
    watch = None if job.watch is None else pa.array(job.watch, pa.string())
    if job.preprocessor:
        rows = [row for s in slices for row in _script_rows(s.file, job)[s.start : s.stop]]
        state = DatasetState()
        for chunk in engine.chunks(rows):
            state.update(chunk, exact=job.exact, watch=watch)
        return state
    pieces = [_sliced(_segments(s.file, job), s.start, s.stop) for s in slices]
    parts = list(capture_engine.cut(pieces, sum(s.stop - s.start for s in slices)))
    return capture_engine.partition_state(parts[0] if parts else [], job.exact, job.watch)


def plan_partitions(
    refs: Sequence[CaptureRef], counts: Sequence[int], size: int
) -> list[list[Slice]]:
    """The rows of the files in order, cut into partitions of `size` rows (the last short)."""
    partitions: list[list[Slice]] = []
    current: list[Slice] = []
    room = size
    for ref, count in zip(refs, counts, strict=True):
        start = 0
        while start < count:
            take = min(room, count - start)
            current.append(Slice(ref, start, start + take))
            start, room = start + take, room - take
            if room == 0:
                partitions.append(current)
                current, room = [], size
    if current:
        partitions.append(current)
    return partitions


def analyze_captures(
    spark: SparkRun,
    files: Sequence[CaptureFile],
    job: CaptureJob,
    *,
    progress: engine.Progress | None = None,
    partition_rows: int = engine.PARTITION_ROWS,
) -> DatasetState:
    """`capture_engine.analyze_captures` (or, with a preprocessor, `engine.analyze_rows`) with
    Spark's executors reading and analysing: the same partitions, merged in the same order."""
    refs = [CaptureRef(file.uri, file.size, file.hour) for file in files]
    batches = spark.each(_batches(refs), lambda batch: [count_rows(r, job) for r in batch])
    counts = [count for batch in batches for count in batch]
    size = capture_engine.partition_size(partition_rows)
    partitions = plan_partitions(refs, counts, size)
    exact = CaptureJob(job.spec, job.preprocessor, job.watch, exact=len(partitions) == 1)
    result = DatasetState()
    for state in spark.each(partitions, lambda slices: slice_state(slices, exact)):
        result = result.merge(state)
        if progress:
            progress(state.rows)
    return result


def partitions_for(rows: int, partition_rows: int = engine.PARTITION_ROWS) -> int:
    """How many partitions (Spark tasks of the second stage) `rows` capture rows make."""
    return math.ceil(rows / capture_engine.partition_size(partition_rows))
