"""A small closed-loop HTTP load generator, shared by the benchmarks.

Each client thread keeps one keep-alive connection and sends the next request as soon as the
previous answer arrives; the run is bounded by a request count and a time limit, and only
ever talks to loopback.
"""

from __future__ import annotations

import http.client
import statistics
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    """What one run measured."""

    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float] = field(repr=False)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        """Completed requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Latency percentile in milliseconds (p in 0..100)."""
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
        return ordered[index]

    @property
    def p50(self) -> float:
        """Median latency in milliseconds."""
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")

    @property
    def p99(self) -> float:
        """99th-percentile latency in milliseconds."""
        return self.percentile(99)


def run_load(
    port: int | Sequence[int],
    path: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    clients: int = 4,
    requests: int = 2000,
    max_seconds: float = 30.0,
    host: str = "127.0.0.1",
) -> LoadResult:
    """Send `requests` POSTs from `clients` threads (stopping early at max_seconds); with
    several ports, client i sends to port i modulo their number."""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError("load tests only ever target loopback")
    ports = [port] if isinstance(port, int) else list(port)
    lock = threading.Lock()
    remaining = [requests]
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = [0]
    deadline = time.perf_counter() + max_seconds

    def take() -> bool:
        with lock:
            if remaining[0] <= 0 or time.perf_counter() > deadline:
                return False
            remaining[0] -= 1
            return True

    def client(port: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        mine: list[float] = []
        while take():
            started = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=dict(headers))
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
                status = 0
            mine.append((time.perf_counter() - started) * 1000)
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if not 200 <= status < 300:
                    errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [
        threading.Thread(target=client, args=(ports[i % len(ports)],), daemon=True)
        for i in range(clients)
    ]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    return LoadResult(len(latencies), errors[0], elapsed, latencies, statuses)


ONE_ROW = b"5.1,3.5,1.4,0.2"  # the iris row every serving benchmark sends
CSV_HEADERS = {"Content-Type": "text/csv", "Accept": "text/csv"}


def measure_round(port: int | Sequence[int], path: str, clients: int, requests: int) -> LoadResult:
    """One benchmark round of one-row CSV invocations; any failed request stops the run."""
    result = run_load(
        port, path, ONE_ROW, CSV_HEADERS, clients=clients, requests=requests, max_seconds=60
    )
    if result.errors:
        raise RuntimeError(f"{result.errors} failed requests: {result.statuses}")
    return result
