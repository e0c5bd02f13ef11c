"""Folding inputs into a dataset state: partitions, chunks, worker processes.

An input is cut into partitions like Spark cuts it: files into line-aligned ranges of 4 MiB
(small files packed together up to that size), record streams into runs of 65,536 rows.
Each partition is analysed from a zero state; the final state is zero merged with every
partition in input order. When the whole input is a single partition the numeric moments
use Spark's exact per-value update (see `numeric`), which makes small inputs, such as the
churn baseline, match the real analyzer bit for bit.

File partitions of an input of `SERIAL_BYTES` or more run in worker processes (forked when
that is safe, see `start_method`) and in this process, which works while they start;
smaller inputs are read in this process alone, as starting a worker (a spawned one is an
interpreter importing numpy and Arrow) costs more than it saves. Record streams are read in
this process, holding at most two partitions of rows (as Arrow arrays) at once.
"""

from __future__ import annotations

import ctypes
import itertools
import multiprocessing
import os
import signal
import sys
import threading
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from smlocal.model_monitor import files
from smlocal.model_monitor.arrays import strings
from smlocal.model_monitor.errors import MAX_COLUMNS, AnalysisError
from smlocal.model_monitor.preprocessing import Preprocessor
from smlocal.model_monitor.readers import csv_fields, json_text
from smlocal.model_monitor.state import Chunk, DatasetState

PARTITION_BYTES = 4 * 1024 * 1024
SERIAL_BYTES = 24 * 1024 * 1024  # smaller inputs are analysed in this process alone
PARTITION_ROWS = 65_536
CHUNK_ROWS = 16_384
_PR_SET_PDEATHSIG = 1  # prctl(2)

Row = Sequence[str | None] | Mapping[str, str | None]
Item = str | Row  # a str is a CSV line of positional fields, split on commas only
Progress = Callable[[int], None]


def _text_chunk(lines: list[str]) -> Chunk | None:
    """CSV lines parsed by Arrow in one go (None if Arrow saw other rows than lines)."""
    commas = [line.count(",") for line in lines]
    width = max(commas) + 1
    if min(commas) + 1 != width:
        lines = [line + "," * (width - 1 - c) for line, c in zip(lines, commas, strict=True)]
    names = [f"_c{i}" for i in range(width)]
    table = files.parse_csv_text("\n".join(lines).encode("utf-8"), names)
    if table.num_rows != len(lines):
        return None
    return Chunk(names, [column.combine_chunks() for column in table.columns], table.num_rows)


def _chunk(batch: list[Item]) -> Chunk:
    if all(isinstance(item, str) for item in batch):
        chunk = _text_chunk(batch)  # type: ignore[arg-type]
        if chunk is not None:
            return chunk
    rows = [csv_fields(item) if isinstance(item, str) else item for item in batch]
    if isinstance(rows[0], Mapping):
        keyed = [row for row in rows if isinstance(row, Mapping)]
        names = list(dict.fromkeys(key for row in keyed for key in row))
        columns = [[row.get(name) for row in keyed] for name in names]
    else:
        width = max(len(row) for row in rows)
        if all(len(row) == width for row in rows):
            columns = [list(c) for c in zip(*rows, strict=True)]
        else:
            columns = [list(c) for c in itertools.zip_longest(*rows)]
        names = [f"_c{i}" for i in range(width)]
    arrays = [pa.array(column, pa.string()) for column in columns]
    return Chunk(names, arrays, len(rows))


def chunks(items: Iterable[Item], size: int = CHUNK_ROWS) -> Iterator[Chunk]:
    """Rows batched into chunks: value lists or CSV lines (columns `_c<i>`), or dicts."""
    batch: list[Item] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield _chunk(batch)
            batch = []
    if batch:
        yield _chunk(batch)


def _partitions(stream: Iterable[Chunk], rows: int) -> Iterator[list[Chunk]]:
    part: list[Chunk] = []
    count = 0
    for chunk in stream:
        part.append(chunk)
        count += chunk.rows
        if count >= rows:
            yield part
            part, count = [], 0
    if part:
        yield part


def analyze_rows(
    rows: Iterable[Item],
    *,
    watch: pa.Array | None = None,
    progress: Progress | None = None,
    partition_rows: int = PARTITION_ROWS,
) -> DatasetState:
    """The state of a record stream (exact moments when it fits one partition)."""
    parts = _partitions(chunks(rows), partition_rows)
    first = next(parts, None)
    second = next(parts, None)
    exact = second is None
    result = DatasetState()
    for part in itertools.chain([first] if first else [], [second] if second else [], parts):
        state = DatasetState()
        for chunk in part:
            state.update(chunk, exact=exact, watch=watch)
        result = result.merge(state)
        if progress:
            progress(state.rows)
    return result


@dataclass(frozen=True)
class FileTask:
    """One partition (ranges of one or more files) and how to read it (picklable)."""

    parts: tuple[files.FileRange, ...]
    kind: str  # "csv" or "json"
    names: tuple[str, ...] = ()
    header: bool = False
    json_lines: bool = True
    preprocessor: str | None = None
    exact: bool = False
    watch: tuple[str, ...] | None = None
    max_columns: int = MAX_COLUMNS


def _flat_object(document: object, where: str) -> Mapping[str, str | None]:
    if not isinstance(document, Mapping):
        raise AnalysisError(f"{where}: expected one flat JSON object per record")
    return {str(k): json_text(v, where) for k, v in document.items()}


def _range_rows(
    task: FileTask, part: files.FileRange, script: Preprocessor | None
) -> Iterator[Row]:
    if task.kind == "csv":
        assert script is not None
        for line in files.csv_lines(part, task.header):
            yield from script.rows(line, f"a line of {part.path}")
        return
    for document in files.json_documents(part, task.json_lines, task.max_columns):
        if script is not None:
            yield from script.rows(document, f"a record of {part.path}")
        else:
            yield _flat_object(document, part.path)


def _task_chunks(task: FileTask) -> Iterator[Chunk]:
    if task.kind == "csv" and task.preprocessor is None:
        for part in task.parts:
            table = files.read_csv(part, task.names, task.header, task.max_columns)
            columns = [column.combine_chunks() for column in table.columns]
            yield Chunk(task.names, columns, table.num_rows)
        return
    script = (
        Preprocessor(Path(task.preprocessor), max_columns=task.max_columns)
        if task.preprocessor
        else None
    )
    rows = (row for part in task.parts for row in _range_rows(task, part, script))
    yield from chunks(rows)


def run_task(task: FileTask) -> DatasetState:
    """Analyse one partition (runs in a worker process)."""
    watch = None if task.watch is None else strings(task.watch)
    state = DatasetState()
    for chunk in _task_chunks(task):
        state.update(chunk, exact=task.exact, watch=watch)
    return state


def default_workers() -> int:
    """Processes to use: the CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def task_bytes(task: FileTask) -> int:
    """The bytes a task reads."""
    return sum(part.end - part.start for part in task.parts)


def plan_workers(tasks: Sequence[FileTask], workers: int | None = None) -> int:
    """Processes to use for `tasks`: `workers` if given (at most one per task), else one
    below `SERIAL_BYTES` of input (starting a worker costs more than it saves), else the CPUs.
    """
    if workers is None:
        small = sum(task_bytes(task) for task in tasks) < SERIAL_BYTES
        workers = 1 if small else default_workers()
    return max(1, min(workers, len(tasks)))


def start_method() -> str:
    """How worker processes start: forked from this process on Linux when no other Python
    thread runs in it (a worker then starts with every module imported, in milliseconds
    instead of the ~0.3 s an interpreter takes to import numpy, Arrow and the analyzer),
    else spawned: a fork next to running Python threads can copy a lock one of them holds
    (the emulator's process, the command line's progress bar). The native threads numpy's
    OpenBLAS and Arrow's allocator and thread pool start have fork handlers of their own.
    """
    if sys.platform == "linux" and threading.active_count() == 1:
        return "fork"
    return "spawn"


def end_with_parent(parent: int) -> None:
    """(In a worker, first thing.) Be killed when the process that started this one ends, on
    Linux: a worker whose job was killed (`kill -9`, a stopped processing job) would otherwise
    wait for its next task forever, forked or spawned."""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it ended before the line above
        os._exit(1)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of `workers` processes, started as `start_method` says (forked ones start now),
    that end when this process ends."""
    method = start_method()
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context(method),
        initializer=end_with_parent,
        initargs=(os.getpid(),),
    )
    if method == "fork":
        with warnings.catch_warnings():  # Python 3.12+ warns of any thread, numpy's included
            warnings.simplefilter("ignore", DeprecationWarning)
            pool.submit(os.getpid)  # a pool forks all its workers at the first task
    return pool


def _run_here(task: FileTask) -> Future[DatasetState]:
    """A task run in this process, its state (or failure) held like a worker's."""
    done: Future[DatasetState] = Future()
    try:
        done.set_result(run_task(task))
    except Exception as exc:  # raised when its turn to be merged comes, as a worker's would be
        done.set_exception(exc)
    return done


def _states(tasks: Sequence[FileTask], workers: int) -> Iterator[DatasetState]:
    """Partition states in task order, from `workers - 1` worker processes and this one.

    This process, which has its modules imported already, runs the next task itself whenever
    the state due next is not ready, so it works while the workers start and no core waits
    for it. At most `3 * workers` states are in flight or waiting to be merged, so memory
    stays bounded whatever the number of partitions; failures surface in task order.
    """
    queue = iter(tasks)
    slots: deque[Future[DatasetState]] = deque()
    helpers, limit = workers - 1, 3 * workers
    with process_pool(helpers) as pool:
        try:
            task = next(queue, None)
            while slots or task is not None:
                while slots and slots[0].done():
                    yield slots.popleft().result()
                busy = sum(not slot.done() for slot in slots)
                while task is not None and busy < 2 * helpers and len(slots) < limit:
                    slots.append(pool.submit(run_task, task))
                    task, busy = next(queue, None), busy + 1
                if task is not None and len(slots) < limit:
                    slots.append(_run_here(task))
                    task = None if slots[-1].exception() else next(queue, None)
                elif slots:
                    wait([slots[0]])
        finally:
            for future in slots:
                future.cancel()


def analyze_files(
    tasks: Sequence[FileTask], *, workers: int | None = None, progress: Progress | None = None
) -> DatasetState:
    """The state of file partitions, merged in order; in parallel when the input is large or
    `workers` asks for it (see `plan_workers`)."""
    workers = plan_workers(tasks, workers)
    states = _states(tasks, workers) if workers > 1 else map(run_task, tasks)
    result = DatasetState()
    for task, state in zip(tasks, states, strict=True):
        result = result.merge(state)
        if progress:
            progress(task_bytes(task))
    return result
