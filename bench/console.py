"""The console costs invocations nothing: measured, not assumed.

(1) InvokeEndpoint through the emulator while a console tab polls the endpoint's live
    figures (and reloads its page) against the same endpoint with no console traffic,
    alternating rounds on one emulator (target: at least 0.97 of the quiet throughput).
(2) With --baseline PATH (a checkout of smlocal without the console, e.g.
    `git worktree add /tmp/base <commit>`): the same invocations through an emulator of that
    tree against one of this tree, alternating (target 0.97).
(3) What the runtime's one added step costs: EndpointMetrics.record with the console's live
    ring against the same call without it, nanoseconds per call, beside an invocation's
    median latency.
Run: python -m bench.console [--rounds N] [--requests N] [--clients N] [--baseline PATH]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench.load import LoadResult, measure_round
from bench.report import Comparison, load_options, print_comparison
from smlocal.emulator.pytest_plugin import SmlocalEmulator
from smlocal.emulator.runtime import metrics
from smlocal.emulator.settings import EmulatorSettings
from tests.conftest import train_iris_tar
from tests.support import deploy

MODEL = "s3://models/iris/model.tar.gz"
POLL_SECONDS = 0.5  # four times as often as the page does


def prepared(emulator: SmlocalEmulator, model_tar: Path, name: str) -> str:
    """The iris endpoint on an emulator; its invocation path."""
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="models")
    s3.upload_file(str(model_tar), "models", "iris/model.tar.gz")
    deploy(emulator.client("sagemaker"), name, [{"name": "AllTraffic", "model_data": MODEL}])
    return f"/endpoints/{name}/invocations"


class ConsoleTab:
    """What an open console tab does, faster: polls the live figures and reloads the latency
    chart with them, reloads the page."""

    def __init__(self, url: str, endpoint: str) -> None:
        page = f"{url}/_smlocal/endpoints/{endpoint}"
        self.urls = [f"{page}/live", f"{page}/latency/AllTraffic.svg"] * 3 + [page]
        self.stop = threading.Event()
        self.polls = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(POLL_SECONDS):
            url = self.urls[self.polls % len(self.urls)]
            with urllib.request.urlopen(url, timeout=10) as answer:
                answer.read()
            self.polls += 1

    def __enter__(self) -> ConsoleTab:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def console_in_use(emulator: SmlocalEmulator, path: str, args: argparse.Namespace) -> Comparison:
    """Rounds with a console tab polling against rounds without, alternating."""
    endpoint = path.split("/")[2]
    comparison = Comparison(
        "console: InvokeEndpoint with a console tab polling vs without",
        "console open", "no console", target_ratio=0.97,
    )  # fmt: skip
    measure_round(emulator.port, path, args.clients, 300)
    polls = 0
    for i in range(args.rounds):
        for polled in (True, False) if i % 2 == 0 else (False, True):
            if polled:
                with ConsoleTab(emulator.url, endpoint) as tab:
                    comparison.a.append(measure_round(emulator.port, path, args.clients,
                                                      args.requests))  # fmt: skip
                polls += tab.polls
            else:
                comparison.b.append(measure_round(emulator.port, path, args.clients,
                                                  args.requests))  # fmt: skip
    setup = f"iris XGBoost, 1 instance, {args.clients} clients, {args.requests} requests"
    print_comparison(comparison, extra=f"{setup} per round; {polls} console requests in all")
    return comparison


def against_baseline(
    here: SmlocalEmulator, path: str, model_tar: Path, args: argparse.Namespace, *, work: Path
) -> Comparison:
    """This tree's emulator against one of a tree without the console, alternating."""
    baseline: Path = args.baseline
    env = {"PYTHONPATH": str(baseline.resolve())}
    other = SmlocalEmulator(work / "baseline", env).start()
    try:
        other_path = prepared(other, model_tar, "bench-console-base")
        comparison = Comparison(
            f"console: InvokeEndpoint, this tree vs {baseline} (no console)",
            "this tree", "baseline", target_ratio=0.97,
        )  # fmt: skip
        arms: list[tuple[int, str, list[LoadResult]]] = [
            (here.port, path, comparison.a), (other.port, other_path, comparison.b)]  # fmt: skip
        for port, route, _ in arms:
            measure_round(port, route, args.clients, 300)
        for i in range(args.rounds):
            for port, route, results in arms if i % 2 == 0 else reversed(arms):
                results.append(measure_round(port, route, args.clients, args.requests))
        print_comparison(comparison, extra=f"iris XGBoost, 1 instance each, {args.clients} "
                         f"clients, {args.requests} requests per round")  # fmt: skip
        return comparison
    finally:
        other.stop()


class WithoutLiveRing(metrics.EndpointMetrics):
    """EndpointMetrics.record as it was before the console: the minute only."""

    def record(self, endpoint: str, variant: str, instances: int, status: int, *,
               model_us: float | None, overhead_us: float) -> None:  # fmt: skip
        with self.lock:
            minute = self._minute(endpoint, variant)
            if minute is None:
                return
            minute.invocations += 1
            minute.instances = instances
            if model_us is not None:
                minute.model.add(model_us)
            minute.overhead.add(overhead_us)
            if 400 <= status < 500:
                minute.client_errors += 1
            elif not 200 <= status < 300:
                minute.server_errors += 1


def record_cost(calls: int = 100_000, repeats: int = 9) -> tuple[float, float]:
    """Nanoseconds per record() call, with the live ring and without: the best of `repeats`
    runs of each, the two kinds alternating (this machine's noise hits both alike)."""
    best = {metrics.EndpointMetrics: float("inf"), WithoutLiveRing: float("inf")}
    for i in range(repeats):
        kinds = list(best) if i % 2 == 0 else list(reversed(best))
        for kind in kinds:
            recorder = kind(EmulatorSettings(), send=lambda data: None)
            began = time.perf_counter()
            for _ in range(calls):
                recorder.record("ep", "AllTraffic", 1, 200, model_us=900.0, overhead_us=100.0)
            best[kind] = min(best[kind], (time.perf_counter() - began) / calls * 1e9)
    return best[metrics.EndpointMetrics], best[WithoutLiveRing]


def main(argv: list[str] | None = None) -> list[Comparison]:
    parser = load_options(__doc__, rounds=5, requests=2000)
    parser.add_argument("--baseline", type=Path, help="a smlocal checkout without the console")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="smlocal-bench-console-"))
    model_tar = train_iris_tar(work / "iris")
    emulator = SmlocalEmulator(work / "here").start()
    comparisons = []
    try:
        path = prepared(emulator, model_tar, "bench-console")
        comparisons.append(console_in_use(emulator, path, args))
        if args.baseline is not None:
            comparisons.append(against_baseline(emulator, path, model_tar, args, work=work))
        latency_ms = Comparison.median(comparisons[0].b, "p50")
    finally:
        emulator.stop()
    with_ring, without = record_cost()
    print("\n== console: the runtime's added step (EndpointMetrics.record with the live ring)")
    print(f"   record(): {with_ring:.0f} ns with the live ring, {without:.0f} ns without "
          f"({with_ring - without:+.0f} ns per invocation)")  # fmt: skip
    share = (with_ring - without) / (latency_ms * 1e6) if latency_ms else float("nan")
    print(f"   against the median invocation latency of {latency_ms:.2f} ms: {share:.2e} of it")
    return comparisons


if __name__ == "__main__":
    main()
