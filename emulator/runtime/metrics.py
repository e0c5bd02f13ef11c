"""Endpoint invocation metrics into CloudWatch (moto's, at the edge), as SageMaker publishes
them: namespace `AWS/SageMaker`, dimensions EndpointName and VariantName, one-minute periods.

The runtime calls `record` on the event loop: it only adds numbers to the current minute's
statistics (one small object per endpoint variant and minute). A thread closes each minute
and sends it with `put_metric_data` StatisticValues, so no invocation waits on the network.
`SMLOCAL_METRICS_PERIOD_SECONDS` makes that thread send more often (tests); data points keep
their minute's timestamp, and a minute sent twice adds up in CloudWatch as in one send.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from smlocal.emulator.settings import EmulatorSettings
from smlocal.emulator.support.clients import client

log = logging.getLogger(__name__)
NAMESPACE = "AWS/SageMaker"
MAX_KEYS = 10_000  # endpoint variant minutes held at most; older minutes are sent first
RECENT = 512  # the latest invocations kept per variant for the console's live figures
LIVE_SECONDS = 60.0  # the window of the console's invocation rate


class Stat:
    """SampleCount, Sum, Minimum and Maximum of one metric."""

    __slots__ = ("count", "high", "low", "total")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.low = float("inf")
        self.high = float("-inf")

    def add(self, value: float) -> None:
        """Fold in one sample."""
        self.count += 1
        self.total += value
        self.low = value if value < self.low else self.low
        self.high = value if value > self.high else self.high

    def values(self) -> dict[str, float]:
        """As put_metric_data's StatisticValues."""
        return {"SampleCount": self.count, "Sum": self.total, "Minimum": self.low,
                "Maximum": self.high}  # fmt: skip


class Recent:
    """A variant's invocations since the emulator started (counts) and the latest RECENT of
    them (time, model latency in microseconds): what the console's live figures read."""

    __slots__ = ("client_errors", "invocations", "latest", "server_errors")

    def __init__(self) -> None:
        self.invocations = 0
        self.client_errors = 0
        self.server_errors = 0
        self.latest: deque[tuple[float, float]] = deque(maxlen=RECENT)

    def live(self, now: float) -> dict[str, Any]:
        """Totals, the rate over the last LIVE_SECONDS and latency percentiles (ms)."""
        samples = list(self.latest)
        window = [latency for moment, latency in samples if now - moment <= LIVE_SECONDS]
        ordered = sorted(latency for _, latency in samples)
        return {
            "Invocations": self.invocations,
            "Invocation4XXErrors": self.client_errors,
            "Invocation5XXErrors": self.server_errors,
            "PerSecond": round(len(window) / LIVE_SECONDS, 3),
            "Samples": len(ordered),
            **{f"P{q}": _percentile(ordered, q) for q in (50, 90, 99)},
        }


def _percentile(ordered: list[float], q: int) -> float | None:
    """The nearest-rank percentile of sorted microseconds, in milliseconds."""
    if not ordered:
        return None
    rank = max(1, -(-q * len(ordered) // 100))
    return round(ordered[rank - 1] / 1000, 3)


class Minute:
    """One endpoint variant's invocations in one minute."""

    __slots__ = (
        "cache_hits",
        "client_errors",
        "instances",
        "invocations",
        "loaded_models",
        "loading",
        "model",
        "overhead",
        "server_errors",
        "setup",
    )

    def __init__(self) -> None:
        self.invocations = 0
        self.instances = 1
        self.model = Stat()
        self.overhead = Stat()
        self.setup = Stat()  # ModelSetupTime: serverless variants' server starts
        self.loading = Stat()  # ModelLoadingTime: multi-model endpoints' loads on first use
        self.cache_hits = Stat()  # ModelCacheHit: 1 if the target model was loaded, else 0
        self.loaded_models = Stat()  # LoadedModelCount: the answering worker's, per invocation
        self.client_errors = 0
        self.server_errors = 0

    def data(self) -> list[tuple[str, str, dict[str, float]]]:
        """(metric, unit, statistic values) to publish."""
        n, instances = self.invocations, self.instances
        out = []
        if n:  # a minute that only saw a server start has no invocation counts
            out += [
                ("Invocations", "None", _counted(n, n)),
                ("InvocationsPerInstance", "None", _per_instance(n, max(instances, 1))),
                ("Invocation4XXErrors", "None", _counted(n, self.client_errors)),
                ("Invocation5XXErrors", "None", _counted(n, self.server_errors)),
            ]
        stats = (("ModelLatency", self.model), ("OverheadLatency", self.overhead),
                 ("ModelSetupTime", self.setup), ("ModelLoadingTime", self.loading))  # fmt: skip
        for name, stat in stats:
            if stat.count:
                out.append((name, "Microseconds", stat.values()))
        if self.cache_hits.count:
            out.append(("ModelCacheHit", "None", self.cache_hits.values()))
            out.append(("LoadedModelCount", "None", self.loaded_models.values()))
        return out


def _counted(samples: int, total: float) -> dict[str, float]:
    """A count metric: one sample per invocation, 1 when it counts and else 0 (AWS's docs
    for the error metrics), so Average is a rate."""
    high = 1.0 if total else 0.0
    return {"SampleCount": samples, "Sum": total, "Minimum": 0.0 if samples > total else high,
            "Maximum": high}  # fmt: skip


def _per_instance(samples: int, instances: int) -> dict[str, float]:
    """1/instances per invocation, as SageMaker sends it (ScalingPolicyMetric's docs)."""
    share = 1.0 / instances
    return {"SampleCount": samples, "Sum": samples * share, "Minimum": share, "Maximum": share}


Key = tuple[str, str, int]  # endpoint, variant, minute (epoch seconds)


class EndpointMetrics:
    """Per-minute aggregation of invocations and the thread that publishes it."""

    def __init__(
        self,
        settings: EmulatorSettings,
        clock: Callable[[], float] = time.time,
        send: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.minutes: dict[Key, Minute] = {}
        self.recent: dict[tuple[str, str], Recent] = {}
        self.lock = threading.Lock()
        self.send = send or self._put
        self._cloudwatch: Any = None
        self.stopped = threading.Event()
        self.thread: threading.Thread | None = None

    def record(
        self,
        endpoint: str,
        variant: str,
        instances: int,
        status: int,
        *,
        model_us: float | None,
        overhead_us: float,
    ) -> None:
        """One invocation forwarded to a variant (status 0: the container did not answer)."""
        now = self.clock()
        client_error = 400 <= status < 500
        server_error = not client_error and not 200 <= status < 300
        with self.lock:  # uncontended but for the moment a minute is taken
            recent = self.recent.get((endpoint, variant))
            if recent is None and len(self.recent) < MAX_KEYS:
                recent = self.recent[(endpoint, variant)] = Recent()
            if recent is not None:  # the console's live figures
                recent.invocations += 1
                recent.latest.append((now, overhead_us + (model_us or 0.0)))
                recent.client_errors += client_error
                recent.server_errors += server_error
            minute = self._minute(endpoint, variant, now)
            if minute is None:
                return
            minute.invocations += 1
            minute.instances = instances
            if model_us is not None:
                minute.model.add(model_us)
            minute.overhead.add(overhead_us)
            minute.client_errors += client_error
            minute.server_errors += server_error

    def setup(self, endpoint: str, variant: str, seconds: float) -> None:
        """A serverless variant's model server came up after `seconds` (download, unpack and
        start): its ModelSetupTime, in the minute it became ready."""
        with self.lock:
            minute = self._minute(endpoint, variant)
            if minute is not None:
                minute.setup.add(seconds * 1e6)

    def model_cache(
        self, endpoint: str, variant: str, hit: bool, loading_us: float, loaded: int
    ) -> None:
        """A multi-model invocation found its model loaded (hit) or loaded it first; the
        answering worker then held `loaded` models."""
        with self.lock:
            minute = self._minute(endpoint, variant)
            if minute is not None:
                minute.cache_hits.add(1.0 if hit else 0.0)
                minute.loaded_models.add(loaded)
                if not hit:
                    minute.loading.add(loading_us)

    def _minute(self, endpoint: str, variant: str, now: float | None = None) -> Minute | None:
        """The variant's current minute (under the lock); None when the publisher is so far
        behind that MAX_KEYS minutes are held: drop rather than grow."""
        key = (endpoint, variant, int(self.clock() if now is None else now) // 60 * 60)
        minute = self.minutes.get(key)
        if minute is None and len(self.minutes) < MAX_KEYS:
            minute = self.minutes[key] = Minute()
        return minute

    def live(self, endpoint: str) -> dict[str, dict[str, Any]]:
        """Each variant's live figures (Recent.live) of an endpoint, by variant name."""
        now, wanted = self.clock(), endpoint.lower()
        with self.lock:
            found = [(v, r) for (e, v), r in self.recent.items() if e.lower() == wanted]
            return {variant: recent.live(now) for variant, recent in found}

    def latencies(self, endpoint: str, variant: str) -> list[float]:
        """The model latencies (ms) of a variant's latest RECENT invocations, oldest first."""
        wanted = (endpoint.lower(), variant)
        with self.lock:
            found = [r for (e, v), r in self.recent.items() if (e.lower(), v) == wanted]
            return [latency / 1000 for recent in found for _, latency in recent.latest]

    def start(self) -> None:
        """Publish every closed minute (every period when the settings give one)."""
        self.thread = threading.Thread(target=self._run, daemon=True, name="endpoint metrics")
        self.thread.start()

    def stop(self) -> None:
        """Publish everything held, including the open minute, and stop."""
        self.stopped.set()
        if self.thread is not None:
            self.thread.join(10)
        self.flush(everything=True)

    def flush(self, everything: bool = False) -> None:
        """Send the closed minutes (all minutes when `everything`) and forget them."""
        now_minute = int(self.clock()) // 60 * 60
        with self.lock:
            held, self.minutes = self.minutes, {}
            keep = {k: m for k, m in held.items() if not everything and k[2] >= now_minute}
            for key, minute in keep.items():  # the open minute goes back, merged if it reopened
                self._merge(key, minute)
        data = [
            self._datum(key, name, unit, values)
            for key, minute in held.items()
            if key not in keep
            for name, unit, values in minute.data()
        ]
        for start in range(0, len(data), 1000):
            try:
                self.send(data[start : start + 1000])
            except Exception:  # metrics must never fail an endpoint
                log.exception("could not publish %d endpoint metric data", len(data))

    def _merge(self, key: Key, old: Minute) -> None:
        new = self.minutes.get(key)
        if new is None:
            self.minutes[key] = old
            return
        new.invocations += old.invocations
        new.client_errors += old.client_errors
        new.server_errors += old.server_errors
        pairs = ((new.model, old.model), (new.overhead, old.overhead), (new.setup, old.setup),
                 (new.loading, old.loading), (new.cache_hits, old.cache_hits),
                 (new.loaded_models, old.loaded_models))  # fmt: skip
        for mine, theirs in pairs:
            mine.count += theirs.count
            mine.total += theirs.total
            mine.low = min(mine.low, theirs.low)
            mine.high = max(mine.high, theirs.high)

    @staticmethod
    def _datum(key: Key, name: str, unit: str, values: dict[str, float]) -> dict[str, Any]:
        endpoint, variant, minute = key
        return {
            "MetricName": name,
            "Dimensions": [
                {"Name": "EndpointName", "Value": endpoint},
                {"Name": "VariantName", "Value": variant},
            ],
            "Timestamp": datetime.fromtimestamp(minute, UTC),
            "StatisticValues": values,
            "Unit": unit,
        }

    def _put(self, data: list[dict[str, Any]]) -> None:
        if self._cloudwatch is None:
            self._cloudwatch = client(self.settings, "cloudwatch")
        self._cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data)

    def _run(self) -> None:
        period = self.settings.metrics_period_seconds
        while True:
            wait = period if period else 60 - self.clock() % 60 + 0.5
            if self.stopped.wait(wait):
                return
            self.flush(everything=bool(period))
