"""Capture files folded into a dataset state: in this process, or split across processes.

A monitoring execution's rows are the items of its capture files in file order (see
`capture_files`), cut into chunks and partitions exactly as `engine.analyze_rows` cuts any
record stream (16,384 rows a chunk, four chunks a partition). Each partition is analysed
from a zero state and the result is zero merged with every partition in order. Worker
processes change who does that work, not what is done: they read files (results taken in
file order) and analyse partitions (states merged in partition order) with the functions one
process calls in turn, so one process and several give the same state bit for bit, and so
byte-identical outputs.

A spawned worker process costs an interpreter and its imports (about 0.7 s of CPU; a forked
one much less, see `engine.start_method`), so runs with less than `PARALLEL_BYTES` of
capture files are read in this process.
"""

from __future__ import annotations

import itertools
import math
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from smlocal.capture_sink.listing import CaptureFile, list_capture_files
from smlocal.model_monitor import engine, files
from smlocal.model_monitor.capture_files import (
    CaptureSource,
    ReadSpec,
    Segment,
    file_segments,
)
from smlocal.model_monitor.errors import AnalysisError
from smlocal.model_monitor.state import Chunk, DatasetState

# Capture files from which worker processes pay off. Measured on 2 cores with churn-shaped
# records (70 values, ~530 bytes each): two workers cost ~1.4 s of CPU to start (interpreter,
# imports, and pandas, which pyarrow imports on its first conversion of a Python value), about
# what they save at 50 MB (100,000 records, two unequal partitions).
PARALLEL_BYTES = 64 * 2**20
READ_BYTES = 4 * 2**20  # capture files read by one task (consecutive small files together)
READ_AHEAD_BYTES = 64 * 2**20  # capture files queued for reading at any time

Result = TypeVar("Result")


def capture_files(source: str | Path, spec: ReadSpec) -> list[CaptureFile]:
    """The capture files that may hold the window's records, in reading order (by URI)."""
    try:
        found = list_capture_files(source, spec.start, spec.end)
    except ValueError as exc:
        raise AnalysisError(str(exc)) from None
    return sorted(found, key=lambda file: file.uri)


def analyze_captures(
    files: Sequence[CaptureFile],
    spec: ReadSpec,
    *,
    workers: int | None = None,
    watch: tuple[str, ...] | None = None,
    progress: engine.Progress | None = None,
    partition_rows: int = engine.PARTITION_ROWS,
    parallel_bytes: int | None = None,
) -> DatasetState:
    """The state of the files' rows; in `workers` processes (default: the CPUs) when the
    files hold `parallel_bytes` (default `PARALLEL_BYTES`) or more."""
    count = workers or engine.default_workers()  # even one large file has many partitions
    threshold = PARALLEL_BYTES if parallel_bytes is None else parallel_bytes
    if count > 1 and sum(file.size for file in files) >= threshold:
        plan = _Plan(spec, count, watch, partition_rows)
        return _in_processes(files, plan, progress)
    reads = (file_segments(CaptureSource.of(file), spec) for file in files)
    exact, parts = _exactness(cut(reads, partition_size(partition_rows)))
    return _merged((partition_state(part, exact, watch) for part in parts), progress)


def _exactness(parts: Iterator[list[Part]]) -> tuple[bool, Iterator[list[Part]]]:
    """Whether the input is one partition (exact moments, as `analyze_rows` decides), and the
    partitions (the first two read ahead to know)."""
    first, second = next(parts, None), next(parts, None)
    return second is None, itertools.chain([p for p in (first, second) if p is not None], parts)


def _merged(states: Iterable[DatasetState], progress: engine.Progress | None) -> DatasetState:
    """Zero merged with each partition's state in turn."""
    result = DatasetState()
    for state in states:
        result = result.merge(state)
        if progress:
            progress(state.rows)
    return result


@dataclass(frozen=True)
class StoredLines:
    """CSV lines a worker wrote to an Arrow file: rows [start, stop) of its one column. They go
    from the worker that reads a file to the one that analyses them through the file system
    (the page cache), not through this process."""

    path: str
    start: int
    stop: int

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, rows: slice) -> StoredLines:
        begin, end, _ = rows.indices(len(self))
        return StoredLines(self.path, self.start + begin, self.start + end)

    @classmethod
    def store(cls, lines: pa.Array, path: str) -> StoredLines:
        """Write the lines to `path`."""
        table = pa.table({"line": lines})
        with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        return cls(path, 0, len(lines))

    def load(self) -> pa.Array:
        """The lines, mapped from the file (which may be deleted once this returns)."""
        table = pa.ipc.open_file(pa.memory_map(self.path)).read_all()
        return table.column(0).combine_chunks().slice(self.start, len(self))


Part: TypeAlias = "StoredLines | Segment"


def read_files(sources: Sequence[CaptureSource], spec: ReadSpec, name: str) -> list[Part]:
    """The items of consecutive capture files, CSV lines stored at `name`-<i>.arrow (runs in a
    worker process)."""
    segments = [segment for source in sources for segment in file_segments(source, spec)]
    parts: list[Part] = []
    for number, segment in enumerate(_compact(segments)):
        array = isinstance(segment, pa.Array)
        parts.append(StoredLines.store(segment, f"{name}-{number}.arrow") if array else segment)
    return parts


def partition_state(
    part: Sequence[Part], exact: bool, watch: tuple[str, ...] | None
) -> DatasetState:
    """One partition's state as `engine.analyze_rows` builds it (runs in a worker process)."""
    array = None if watch is None else pa.array(watch, pa.string())
    loaded = [p.load() if isinstance(p, StoredLines) else p for p in part]
    state = DatasetState()
    for batch in cut([loaded], engine.CHUNK_ROWS):
        state.update(_chunk(batch), exact=exact, watch=array)
    return state


def _chunk(batch: Sequence[Segment]) -> Chunk:
    """The chunk `engine.chunks` makes of these items; CSV lines held in one array are split
    without a detour through Python strings when they all hold as many commas."""
    if len(batch) == 1 and isinstance(batch[0], pa.Array):
        chunk = _lines_chunk(batch[0])
        if chunk is not None:
            return chunk
    items = [i for s in batch for i in (s.to_pylist() if isinstance(s, pa.Array) else s)]
    return next(engine.chunks(items, len(items)))


def _lines_chunk(lines: pa.Array) -> Chunk | None:
    """What `engine.chunks` makes of CSV lines of equal width, else None: the lines joined with
    line breaks, split by Arrow on every comma into `_c<i>` string columns."""
    low, high = pc.min_max(pc.count_substring(lines, ",")).values()
    if lines.null_count or low.as_py() != high.as_py():
        return None  # short lines are padded first: left to engine.chunks
    names = [f"_c{i}" for i in range(high.as_py() + 1)]
    ended = pc.binary_join_element_wise(lines, "", "\n")  # each line and its break
    text = ended.buffers()[2][: pc.sum(pc.binary_length(ended)).as_py()]
    table = files.parse_csv_text(text, names)
    if table.num_rows != len(lines):
        return None
    return Chunk(names, [column.combine_chunks() for column in table.columns], table.num_rows)


def partition_size(partition_rows: int) -> int:
    """Items in a full partition: whole chunks up to `partition_rows`, as `analyze_rows` cuts."""
    return engine.CHUNK_ROWS * max(1, math.ceil(partition_rows / engine.CHUNK_ROWS))


def _read_tasks(files: Sequence[CaptureFile]) -> Iterator[tuple[list[CaptureSource], int]]:
    """Consecutive files up to READ_BYTES a task, with their size (S3 objects read here)."""
    batch: list[CaptureSource] = []
    size = 0
    for file in files:
        if batch and size + file.size > READ_BYTES:
            yield batch, size
            batch, size = [], 0
        batch.append(CaptureSource.of(file))
        size += file.size
    if batch:
        yield batch, size


@dataclass(frozen=True)
class _Plan:
    spec: ReadSpec
    workers: int
    watch: tuple[str, ...] | None
    partition_rows: int


def _in_processes(
    files: Sequence[CaptureFile], plan: _Plan, progress: engine.Progress | None
) -> DatasetState:
    pool = engine.process_pool(plan.workers)
    scratch = tempfile.TemporaryDirectory(prefix="smlocal-captures-")
    try:
        reads = _ordered(
            pool,
            read_files,
            (
                ((batch, plan.spec, str(Path(scratch.name) / f"{number:06d}")), size)
                for number, (batch, size) in enumerate(_read_tasks(files))
            ),
            READ_AHEAD_BYTES,
        )
        exact, parts = _exactness(cut(reads, partition_size(plan.partition_rows)))
        held: deque[list[Part]] = deque()
        tasks = (((_hold(held, part), exact, plan.watch), 1) for part in parts)
        states = _ordered(pool, partition_state, tasks, plan.workers)
        return _merged((_release(held.popleft(), state) for state in states), progress)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        scratch.cleanup()


def _hold(held: deque[list[Part]], part: list[Part]) -> list[Part]:
    held.append(part)
    return part


def _release(part: list[Part], state: DatasetState) -> DatasetState:
    """Delete the stored lines of an analysed partition (but its last ones, which may go on into
    the next partition); its state passes through."""
    last = part[-1].path if isinstance(part[-1], StoredLines) else None
    for done in {p.path for p in part if isinstance(p, StoredLines)} - {last}:
        Path(done).unlink(missing_ok=True)
    return state


def _ordered(
    pool: ProcessPoolExecutor,
    function: Callable[..., Result],
    tasks: Iterable[tuple[tuple[Any, ...], int]],
    budget: int,
) -> Iterator[Result]:
    """`function` over (arguments, weight) tasks in the pool, results in task order. Tasks are
    queued while those pending weigh less than `budget` (at least one is), so finished
    results waiting for a slow earlier one do not pile up."""
    pending: deque[tuple[Future[Result], int]] = deque()
    load = 0
    queue = iter(tasks)
    while True:
        while not pending or load < budget:
            task = next(queue, None)
            if task is None:
                break
            arguments, weight = task
            pending.append((pool.submit(function, *arguments), weight))
            load += weight
        if not pending:
            return
        future, weight = pending.popleft()
        load -= weight
        yield future.result()


def cut(reads: Iterable[Sequence[Part]], size: int) -> Iterator[list[Part]]:
    """Segments regrouped into partitions of exactly `size` items (the last may be short),
    each compacted so that it pickles without the rest of the arrays it was cut from."""
    part: list[Part] = []
    count = 0
    for segments in reads:
        for segment in segments:
            start = 0
            while start < len(segment):
                take = min(size - count, len(segment) - start)
                part.append(segment[start : start + take])
                count, start = count + take, start + take
                if count == size:
                    yield _compact(part)
                    part, count = [], 0
    if part:
        yield _compact(part)


def _compact(part: Sequence[Part]) -> list[Part]:
    """Neighbouring arrays concatenated (copied), lists joined, stored lines kept."""
    compact: list[Part] = []
    for kind, group in itertools.groupby(part, key=type):
        if kind is StoredLines:
            compact.extend(group)
        elif issubclass(kind, pa.Array):
            compact.append(pa.concat_arrays(list(group)))
        else:
            compact.append([item for segment in group for item in segment])  # type: ignore[union-attr]
    return compact
