"""The Spark engine next to the single-machine engine: baselines of N x 20 rows and monitoring
runs over N captured records, on this machine's cores (`local[2]` by default).

    python -m bench.monitor_spark [--rows 100000 300000 1000000] [--records 100000,300000]
                                  [--master local[2]] [--keep DIR]

Each run is a whole job (`run_analysis`, as `smlocal monitor` runs it) in a child process:
its wall time, the driver's peak resident memory (the Python process that plans and merges;
`ru_maxrss`), and the peak of the whole process tree (with Spark: the JVM, which in local
mode is driver and executors at once, and its Python workers), sampled every 100 ms. The
Spark figures include starting Spark (a JVM), which is also measured alone. After each capture
run, one 65,536-record partition is counted, analysed and merged in one process (CPU time,
which the machine's load changes less than wall time): the per-core throughput docs/scale.md
works from. Outputs of the two engines are compared byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.monitor_baseline import (
    CAPTURE_FORMAT,
    CSV_FORMAT,
    ROOT,
    generate_captures,
    generate_csv,
)


@dataclass
class Run:
    seconds: float
    driver_mb: float
    tree_mb: float
    detail: str


def _child(argv: list[str]) -> None:
    """One measured step in this process; prints a JSON line."""
    kind, *args = argv
    started = time.perf_counter()
    if kind == "start":
        from smlocal.model_monitor.spark_engine import SparkPlan, spark_context

        with spark_context(SparkPlan(args[0])) as context:
            detail = f"Spark {context.version} on {args[0]}"
    elif kind == "partition":
        detail = _one_partition(Path(args[0]))
    else:
        from smlocal.model_monitor.job import run_analysis

        result = run_analysis(json.loads(args[0]), log=lambda line: None)
        detail = result.message
    seconds = time.perf_counter() - started
    driver = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "driver_mb": driver, "detail": detail}))


def _one_partition(folder: Path) -> str:
    """Count and analyse the first 65,536 records of a capture folder as one Spark task would
    (both stages), in this process."""
    from smlocal.model_monitor import capture_engine, engine
    from smlocal.model_monitor.capture_files import ReadSpec
    from smlocal.model_monitor.spark_engine import (
        CaptureJob,
        CaptureRef,
        count_rows,
        plan_partitions,
        slice_state,
    )
    from smlocal.model_monitor.state import DatasetState

    spec = ReadSpec()
    files = capture_engine.capture_files(folder, spec)
    refs = [CaptureRef(f.uri, f.size, f.hour) for f in files]
    job = CaptureJob(spec)
    size = capture_engine.partition_size(engine.PARTITION_ROWS)
    counting = time.process_time()
    counts, total = [], 0
    for ref in refs:  # the files of the first partition
        counts.append(count_rows(ref, job))
        total += counts[-1]
        if total >= size:
            break
    counted = time.process_time() - counting
    first = plan_partitions(refs[: len(counts)], counts, size)[0]
    analysing = time.process_time()
    state = slice_state(first, job)
    analysed = time.process_time() - analysing
    merging = time.process_time()
    merged = DatasetState().merge(state).merge(state)
    merged_in = (time.process_time() - merging) / 2
    size = len(pickle.dumps(state)) / 2**20
    return (
        f"{state.rows:,} records, {len(merged.columns)} columns, CPU time: count stage "
        f"{counted:.2f} s, analysis stage {analysed:.2f} s; a merge on the driver "
        f"{merged_in * 1000:.1f} ms; the state {size:.2f} MB pickled"
    )


def measure(*args: str) -> Run:
    """A step in a child process, the RSS of its process tree sampled."""
    import psutil

    command = [sys.executable, "-m", "bench.monitor_spark", "--child", *args]
    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    root, peak = psutil.Process(child.pid), 0
    while child.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.1)
    output, _ = child.communicate()
    if child.returncode:
        raise SystemExit(f"step {args[0]} failed with status {child.returncode}")
    result = json.loads(output.strip().splitlines()[-1])
    return Run(result["seconds"], result["driver_mb"], peak / 2**20, result["detail"])


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _row(label: str, run: Run) -> None:
    print(
        f"{label:<28} {run.seconds:8.2f} s {run.driver_mb:8.0f} MB {run.tree_mb:8.0f} MB  "
        f"{run.detail}",
        flush=True,
    )


def _both(env: dict[str, str], output: Path, master: str, label: str) -> None:
    """The job on each engine; both rows printed, the outputs compared."""
    for engine in ("single", "spark"):
        extra = {"smlocal_engine": "spark", "smlocal_spark_master": master}
        job = {**env, "output_path": str(output / engine), **(extra if engine == "spark" else {})}
        _row(f"{label} {engine}", measure("job", json.dumps(job)))
    same = _hashes(output / "single") == _hashes(output / "spark")
    print(f"{'':<28} outputs byte-identical: {same}  ({_load()})", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="*", default=[100_000, 300_000, 1_000_000])
    parser.add_argument(
        "--records", default="100000,300000", help="captured records, e.g. 1000000,10000000"
    )
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--keep", type=Path, help="keep generated data and outputs here")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child:
        _child(options.child)
        return
    with tempfile.TemporaryDirectory() as scratch:
        work = options.keep or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        print(f"== Spark engine ({options.master}) vs single machine, {_load()}")
        print(f"{'step':<28} {'wall':>10} {'driver':>11} {'all procs':>11}")
        _row("start Spark alone", measure("start", options.master))
        for rows in options.rows:
            data = work / f"rows-{rows}.csv"
            if not data.exists():
                generate_csv(data, rows)
            env = {"dataset_source": str(data), "dataset_format": CSV_FORMAT}
            _both(env, work / f"baseline-{rows}", options.master, f"{rows:,} x 20 baseline")
        for records in (int(n) for n in options.records.split(",") if n):
            folder = work / f"captures-{records}"
            if not folder.exists():
                generate_captures(folder, records)
            env = {"dataset_source": str(folder), "dataset_format": CAPTURE_FORMAT}
            _both(env, work / f"run-{records}", options.master, f"{records:,} captures")
            if records >= 65_536:
                _row("  one partition, one core", measure("partition", str(folder)))


if __name__ == "__main__":
    main()
