"""Model Monitor benchmark: baselines of 100k, 1M and 5M rows next to pandas (and whylogs up
to 1M rows), and `monitor run` at 100k and 1M captured records.

    python -m bench.monitor_baseline [--sizes 100000 1000000 5000000] [--rounds 3]
                                     [--whylogs-up-to 1000000] [--records 100000,1000000]
                                     [--monitor-only] [--keep DIR]

whylogs runs in a venv of its own, made once under ~/.cache/smlocal-bench/venvs (as the
serving comparisons' competitors are), with its usage statistics switched off; if it cannot
be installed, it is skipped with the reason.

Each measured step runs in its own child process, so the peak memory printed is that step's
alone: the resident set of the child and all its descendants, sampled every 100 ms (listing
a process tree reads /proc for every process, so sampling faster would slow the step). At
each size the tools run in alternating order, round after round, and the ratio printed is
the median of the per-round ratios. The machine may be shared, so CPU seconds (user +
system, children included) are printed next to the wall time, and the load average with
them. Targets (2 cores): the 1M x 20 baseline within 1.0x pandas' `read_csv` + `describe()`
wall time, under 500 MB at every size; `monitor run` over 1M captured records < 10 s,
measured as the command (`smlocal monitor run`, imports included) with its default worker
processes and with `--workers 1`, side by side.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from bench.competitor_envs import Competitor, Unavailable, ready_python, venv_env

ROOT = Path(__file__).resolve().parents[1]
# whylogs in a venv of its own (made once, cached), at the pandas smlocal's environment has
WHYLOGS = Competitor(
    name="whylogs",
    version="1.6.4",
    packages=["whylogs==1.6.4", f"pandas=={metadata.version('pandas')}"],
    no_deps=[],
    probe="import whylogs, pandas",
    xgboost=False,
)
# The whylogs step, run by the venv's interpreter: read the CSV with pandas, profile it.
WHYLOGS_STEP = """
import json, resource, sys, time
started = time.perf_counter()
import pandas as pd
import whylogs
frame = pd.read_csv(sys.argv[1])
profile = whylogs.log(frame).view()
seconds = time.perf_counter() - started
usage = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
cpu = sum(u.ru_utime + u.ru_stime for u in usage)
detail = f"whylogs {whylogs.__version__} profile of {len(profile.get_columns())} columns"
print(json.dumps({"seconds": seconds, "cpu": cpu, "detail": detail}))
"""
CSV_FORMAT = json.dumps({"csv": {"header": True, "output_columns_position": "START"}})
CAPTURE_FORMAT = json.dumps(
    {"sagemakerCaptureJson": {"captureIndexNames": ["endpointInput", "endpointOutput"]}}
)


@dataclass
class Measured:
    seconds: float
    peak_mb: float
    cpu_seconds: float
    detail: str


def generate_csv(path: Path, rows: int, seed: int = 0) -> None:
    """`rows` rows of 20 numeric columns: 10 integer, 10 with four decimals."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv

    rng = np.random.default_rng(seed)
    with pcsv.CSVWriter(path, pa.schema([(f"f{i}", pa.string()) for i in range(20)])) as out:
        for start in range(0, rows, 100_000):
            n = min(100_000, rows - start)
            columns = []
            for i in range(20):
                if i % 2 == 0:
                    values = pa.array(rng.integers(0, 1000, n))
                else:
                    values = pa.array(np.round(rng.normal(50, 10, n), 4))
                columns.append(values.cast(pa.string()))
            out.write_table(pa.table(columns, names=[f"f{i}" for i in range(20)]))


def _churn_like(rng: object, count: int) -> list[tuple[str, str]]:
    """(output, input) pairs shaped like the churn example: 11 numbers, 58 flags, a score."""
    import numpy as np

    assert isinstance(rng, np.random.Generator)
    pairs = []
    for _ in range(count):
        numbers = ",".join(f"{v:.1f}" for v in rng.uniform(0, 300, 11))
        flags = ",".join(map(str, rng.integers(0, 2, 58)))
        pairs.append((f"{rng.random():.17f}", f"{numbers},{flags}"))
    return pairs


def generate_churn_baseline(path: Path, rows: int) -> None:
    """A churn-shaped training CSV (label first) for the monitoring run's baseline."""
    import numpy as np

    pairs = _churn_like(np.random.default_rng(2), rows)
    header = ",".join(f"c{i}" for i in range(70))
    path.write_text(header + "\n" + "\n".join(f"{o},{i}" for o, i in pairs) + "\n")


def generate_captures(folder: Path, records: int, per_file: int = 1000) -> None:
    """Churn-shaped Data Capture records in one hour folder, 1000 per file (the payloads of
    the first 100,000 records repeat after them, which keeps generating 1M records short)."""
    import numpy as np

    rng = np.random.default_rng(1)
    target = folder / "endpoint" / "AllTraffic" / "2022" / "04" / "18" / "00"
    target.mkdir(parents=True, exist_ok=True)
    distinct: list[tuple[str, str]] = []
    for start in range(0, records, per_file):
        lines = []
        count = min(per_file, records - start)
        if len(distinct) < 100_000:
            pairs = _churn_like(rng, count)
            distinct += pairs
        else:
            first = start % len(distinct)
            pairs = distinct[first : first + count]
        for i, (output, inputs) in enumerate(pairs, start):
            record = {
                "captureData": {
                    "endpointInput": {
                        "observedContentType": "text/csv",
                        "mode": "INPUT",
                        "data": inputs,
                        "encoding": "CSV",
                    },
                    "endpointOutput": {
                        "observedContentType": "text/csv; charset=utf-8",
                        "mode": "OUTPUT",
                        "data": output,
                        "encoding": "CSV",
                    },
                },
                "eventMetadata": {
                    "eventId": str(uuid.uuid4()),
                    "inferenceTime": f"2022-04-18T00:{(i // 60) % 60:02d}:{i % 60:02d}Z",
                },
                "eventVersion": "0",
            }
            lines.append(json.dumps(record, separators=(",", ":")))
        (target / f"{start:08d}-{uuid.uuid4()}.jsonl").write_text("\n".join(lines) + "\n")


def _child(argv: list[str]) -> None:
    """One measured step, in this (child) process; prints a JSON result line."""
    kind, *args = argv
    started = time.perf_counter()
    if kind == "pandas":
        import pandas as pd

        frame = pd.read_csv(args[0])
        described = frame.describe()
        detail = f"describe() of {frame.shape[0]:,} x {frame.shape[1]}, {described.shape}"
    elif kind == "monitor-run":  # the command, as a user runs it (its imports included)
        from smlocal.emulator.cli import main as smlocal

        with contextlib.redirect_stdout(io.StringIO()) as printed:
            status = smlocal(["monitor", "run", *args])
        if status not in (0, 3):
            raise SystemExit(f"smlocal monitor run failed ({status}): {printed.getvalue()}")
        detail = printed.getvalue().splitlines()[0]
    else:
        from smlocal.model_monitor.job import run_analysis

        env = json.loads(args[0])
        result = run_analysis(env, log=lambda line: None)
        detail = result.message
    seconds = time.perf_counter() - started
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = sum(u.ru_utime + u.ru_stime for u in usage)
    print(json.dumps({"seconds": seconds, "cpu": cpu, "detail": detail}))


def measure(*args: str) -> Measured:
    """Run a step in a child process of this environment (see `measure_command`)."""
    return measure_command([sys.executable, "-m", "bench.monitor_baseline", "--child", *args])


def measure_command(command: list[str], env: dict[str, str] | None = None) -> Measured:
    """Run a step in a child process, sampling the RSS of its process tree; the step prints
    its JSON result (seconds, cpu, detail) as its last line."""
    import psutil

    child = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env)
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
        raise SystemExit(f"step {command[-2:]} failed with status {child.returncode}")
    result = json.loads(output.strip().splitlines()[-1])
    return Measured(result["seconds"], peak / 2**20, result["cpu"], result["detail"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 5_000_000], help="rows"
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds per size")
    parser.add_argument(
        "--whylogs-up-to",
        type=int,
        default=1_000_000,
        help="rows up to which whylogs is measured too (0: never; it takes ~20 s per 1M rows)",
    )
    parser.add_argument(
        "--records", type=_counts, default=(100_000, 1_000_000), help="e.g. 100000,1000000"
    )
    parser.add_argument("--monitor-only", action="store_true", help="only the monitoring runs")
    parser.add_argument("--keep", type=Path, help="keep generated data and outputs here")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.child:
        _child(options.child)
        return
    with tempfile.TemporaryDirectory() as scratch:
        work = options.keep or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        if not options.monitor_only:
            compare_baselines(work, options.sizes, options.rounds, options.whylogs_up_to)
        run_monitoring(work, options.records, rounds=options.rounds, keep=options.keep is not None)


def _counts(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(","))


def _row(label: str, m: Measured) -> None:
    print(f"{label:<34} {m.seconds:7.2f} s {m.cpu_seconds:8.2f} s {m.peak_mb:8.0f} MB  {m.detail}")


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def _tools(sizes: list[int], whylogs_up_to: int) -> list[str]:
    """The tools compared: smlocal and pandas, and whylogs when its venv can be made."""
    if not any(rows <= whylogs_up_to for rows in sizes):
        return ["smlocal", "pandas"]
    try:
        ready_python(WHYLOGS)
    except Unavailable as why:
        print(f"whylogs: skipped, {why}")
        return ["smlocal", "pandas"]
    return ["smlocal", "pandas", "whylogs"]


def _baseline_env(data: Path, output: Path) -> str:
    return json.dumps(
        {"dataset_source": str(data), "dataset_format": CSV_FORMAT, "output_path": str(output)}
    )


def _measure_tool(tool: str, data: Path, work: Path) -> Measured:
    if tool == "smlocal":
        return measure("job", _baseline_env(data, work / "b"))
    if tool == "whylogs":
        env = {**venv_env(WHYLOGS), "WHYLOGS_NO_ANALYTICS": "True"}  # no traffic off the host
        return measure_command([str(WHYLOGS.python), "-c", WHYLOGS_STEP, str(data)], env)
    return measure(tool, str(data))


def _size_rounds(
    data: Path, work: Path, tools: list[str], rounds: int
) -> dict[str, list[Measured]]:
    """Every tool on one file, `rounds` times, the order turned each round."""
    results: dict[str, list[Measured]] = {tool: [] for tool in tools}
    for number in range(rounds):
        order = tools if number % 2 == 0 else tools[::-1]
        for tool in order:
            results[tool].append(_measure_tool(tool, data, work))
        figures = "  ".join(
            f"{tool} {results[tool][-1].seconds:.2f} s/{results[tool][-1].cpu_seconds:.2f} s cpu"
            f"/{results[tool][-1].peak_mb:.0f} MB"
            for tool in tools
        )
        print(f"  round {number + 1}: {figures}")
    return results


def _ratio(a: list[Measured], b: list[Measured], attr: str) -> float:
    ratios = [float(getattr(x, attr)) / float(getattr(y, attr)) for x, y in zip(a, b, strict=True)]
    return statistics.median(ratios)


def compare_baselines(work: Path, sizes: list[int], rounds: int, whylogs_up_to: int) -> None:
    """Baselines of `sizes` rows x 20 numeric columns next to pandas (and whylogs up to
    `whylogs_up_to` rows)."""
    print(f"== baseline of N x 20 numeric CSV next to pandas read_csv + describe(), {_load()}")
    every = _tools(sizes, whylogs_up_to)
    header = f"{'rows':>10} {'tool':<8} {'wall':>9} {'cpu':>9} {'peak RSS':>9}"
    summary = [header + f" {'wall/pandas':>12} {'cpu/pandas':>11} {'RSS/pandas':>11}"]
    for rows in sizes:
        data = work / f"baseline-{rows}.csv"
        started = time.perf_counter()
        generate_csv(data, rows)
        size = data.stat().st_size / 2**20
        print(f"{rows:,} x 20 CSV ({size:.0f} MB) in {time.perf_counter() - started:.1f} s")
        tools = [t for t in every if t != "whylogs" or rows <= whylogs_up_to]
        if tools != every:
            print(f"  whylogs: not run at this size (above --whylogs-up-to {whylogs_up_to:,})")
        results = _size_rounds(data, work, tools, rounds)
        for tool in tools:
            runs = results[tool]
            line = (
                f"{rows:>10,} {tool:<8} {statistics.median(m.seconds for m in runs):7.2f} s"
                f" {statistics.median(m.cpu_seconds for m in runs):7.2f} s"
                f" {max(m.peak_mb for m in runs):6.0f} MB"
            )
            if tool != "pandas":
                line += (
                    f" {_ratio(runs, results['pandas'], 'seconds'):10.2f} x"
                    f" {_ratio(runs, results['pandas'], 'cpu_seconds'):9.2f} x"
                    f" {_ratio(runs, results['pandas'], 'peak_mb'):9.2f} x"
                )
            summary.append(line)
        data.unlink()
    print("\n".join(["", *summary]))
    print(
        f"({_load()}; medians of {rounds} rounds, ratios the medians of per-round ratios; "
        "peak RSS the largest of the rounds)\n"
        "targets: 1,000,000 rows: smlocal wall <= 1.0x pandas; smlocal < 500 MB at every size\n"
    )


def _median(runs: list[Measured]) -> Measured:
    return Measured(
        statistics.median(m.seconds for m in runs),
        statistics.median(m.peak_mb for m in runs),
        statistics.median(m.cpu_seconds for m in runs),
        runs[0].detail,
    )


def _alternate(
    command: list[str], rounds: int
) -> tuple[Measured, Measured, list[tuple[float, float]]]:
    """Default workers and one worker in alternating rounds: the medians of each, and each
    round's (wall, cpu) ratio default / one."""
    default, one = [], []
    for _ in range(rounds):
        default.append(measure("monitor-run", *command))
        one.append(measure("monitor-run", *command, "--workers", "1"))
    ratios = [
        (d.seconds / o.seconds, d.cpu_seconds / o.cpu_seconds)
        for d, o in zip(default, one, strict=True)
    ]
    return _median(default), _median(one), ratios


def run_monitoring(
    work: Path, counts: tuple[int, ...], *, rounds: int = 3, keep: bool = False
) -> None:
    """`smlocal monitor run` over captures of each size: default workers and one, alternating
    rounds, medians."""
    generate_churn_baseline(work / "churn.csv", 5000)
    churn = {
        "dataset_source": str(work / "churn.csv"),
        "dataset_format": CSV_FORMAT,
        "output_path": str(work / "cb"),
    }
    print(f"\n{'step':<34} {'wall':>9} {'cpu':>10} {'peak RSS':>11}")
    _row("baseline of 5,000 churn-shaped rows", measure("job", json.dumps(churn)))
    for records in counts:
        captures = work / f"captures-{records}"
        started = time.perf_counter()
        generate_captures(captures, records)
        size = sum(p.stat().st_size for p in captures.rglob("*.jsonl")) / 2**20
        print(
            f"generated {records:,} capture records ({size:.0f} MB) "
            f"in {time.perf_counter() - started:.1f} s"
        )
        command = [
            str(captures),
            *("--baseline-statistics", str(work / "cb" / "statistics.json")),
            *("--baseline-constraints", str(work / "cb" / "constraints.json")),
            *("--start", "2022-04-18T00:00:00Z", "--end", "2022-04-18T01:00:00Z"),
            *("--output", str(work / f"m-{records}")),
        ]
        default, one, ratios = _alternate(command, rounds)
        _row(f"monitor run, {records:,} records", default)
        _row(f"monitor run, {records:,}, --workers 1", one)
        wall, cpu = (statistics.median(r) for r in zip(*ratios, strict=True))
        print(f"{'ratio default / one worker':<34} {wall:7.2f} x {cpu:8.2f} x")
        if not keep:
            shutil.rmtree(captures)
    print("\ntarget: monitor run over 1,000,000 records < 10 s")


if __name__ == "__main__":
    main()
