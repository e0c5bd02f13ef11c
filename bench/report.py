"""Printing side-by-side measurements and the machine they came from."""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from dataclasses import dataclass, field

from bench.load import LoadResult


def load_options(doc: str | None, rounds: int, requests: int) -> argparse.ArgumentParser:
    """The options every load benchmark takes (add more to the parser it returns)."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--rounds", type=int, default=rounds, help="alternating rounds")
    parser.add_argument("--requests", type=int, default=requests, help="requests per round")
    parser.add_argument("--clients", type=int, default=4, help="concurrent keep-alive clients")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    return parser


def machine() -> str:
    """A one-line description of this machine."""
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


@dataclass
class Comparison:
    """Two arms measured alternately in one run."""

    title: str
    name_a: str
    name_b: str
    target_ratio: float
    a: list[LoadResult] = field(default_factory=list)
    b: list[LoadResult] = field(default_factory=list)

    @staticmethod
    def median(results: list[LoadResult], attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in results)

    @property
    def ratio(self) -> float:
        """Median throughput of a over median throughput of b."""
        return self.median(self.a, "rps") / self.median(self.b, "rps")

    @property
    def p99_ratio(self) -> float:
        """Median p99 latency of a over that of b."""
        return self.median(self.a, "p99") / self.median(self.b, "p99")


def print_comparison(c: Comparison, extra: str = "") -> None:
    """A table of per-round and median figures, and the verdict against the target."""
    print(f"\n== {c.title}")
    print(f"   machine: {machine()}")
    if extra:
        print(f"   setup: {extra}")
    print(
        f"   {'round':>5}  {c.name_a + ' req/s':>22} {'p50/p99 ms':>14}  "
        f"{c.name_b + ' req/s':>22} {'p50/p99 ms':>14}"
    )
    for i, (ra, rb) in enumerate(zip(c.a, c.b, strict=True), 1):
        print(
            f"   {i:>5}  {ra.rps:>22.0f} {ra.p50:>6.2f}/{ra.p99:<7.2f}  "
            f"{rb.rps:>22.0f} {rb.p50:>6.2f}/{rb.p99:<7.2f}"
        )
    print(
        f"   median {c.name_a}: {c.median(c.a, 'rps'):.0f} req/s, "
        f"p50 {c.median(c.a, 'p50'):.2f} ms, p99 {c.median(c.a, 'p99'):.2f} ms"
    )
    print(
        f"   median {c.name_b}: {c.median(c.b, 'rps'):.0f} req/s, "
        f"p50 {c.median(c.b, 'p50'):.2f} ms, p99 {c.median(c.b, 'p99'):.2f} ms"
    )
    verdict = "meets" if c.ratio >= c.target_ratio else "MISSES"
    print(
        f"   throughput ratio {c.ratio:.3f} ({verdict} target >= {c.target_ratio}); "
        f"p99 ratio {c.p99_ratio:.3f}"
    )
