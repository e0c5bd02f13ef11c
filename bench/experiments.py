"""What SageMaker Experiments cost here, as the SDK's `Run` calls them.

(1) Opening a `Run` (CreateExperiment/CreateTrial/CreateTrialComponent, each answered
    "already exists" after the first, the Search for its membership, AssociateTrialComponent)
    with 0 and with --components existing runs in the account: the Search looks through every
    component, so this is the figure that grows.
(2) `log_metric`: one BatchPutMetrics call per value, as the SDK sends them.
(3) Search on ExperimentTrialComponent by Parents.ExperimentName over --components runs.
Run: python -m bench.experiments [--components N] [--metrics N]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import machine
from smlocal.emulator.pytest_plugin import SmlocalEmulator


def _median_ms(call: Callable[[], Any], times: int) -> float:
    spent = []
    for _ in range(times):
        start = time.perf_counter()
        call()
        spent.append(time.perf_counter() - start)
    return statistics.median(spent) * 1000


def _open_run(sm: Any, experiment: str, name: str) -> None:
    """The calls `Run(...)` makes for a run that exists already (as `load_run` does)."""
    for call, params in (
        (sm.create_experiment, {"ExperimentName": experiment}),
        (sm.create_trial, {"TrialName": f"{experiment}-group", "ExperimentName": experiment}),
        (sm.create_trial_component, {"TrialComponentName": name}),
    ):
        with contextlib.suppress(sm.exceptions.ClientError):
            call(**params)
    group = f"{experiment}-group"
    found = sm.search(Resource="ExperimentTrialComponent", SearchExpression={"Filters": [
        {"Name": "TrialComponentName", "Operator": "Equals", "Value": name},
        {"Name": "Parents.TrialName", "Operator": "Equals", "Value": group}]})  # fmt: skip
    if not found["Results"]:
        sm.associate_trial_component(TrialComponentName=name, TrialName=group)


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Print the figures; return them."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--components", type=int, default=1000)
    parser.add_argument("--metrics", type=int, default=200)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-experiments-"))
    emulator = SmlocalEmulator(work).start()
    figures: dict[str, float] = {}
    try:
        sm = emulator.client("sagemaker")
        metrics = emulator.client("sagemaker-metrics")
        _open_run(sm, "bench", "bench-run-0")
        figures["open a Run, 1 run in the account (ms)"] = _median_ms(
            lambda: _open_run(sm, "bench", "bench-run-0"), 20
        )
        for i in range(1, args.components):
            _open_run(sm, "bench", f"bench-run-{i}")
        figures[f"open a Run, {args.components} runs in the account (ms)"] = _median_ms(
            lambda: _open_run(sm, "bench", "bench-run-0"), 20
        )
        datum = {"MetricName": "loss", "Value": 0.5}
        figures["log_metric: one BatchPutMetrics (ms)"] = _median_ms(
            lambda: metrics.batch_put_metrics(TrialComponentName="bench-run-0", MetricData=[
                {**datum, "Timestamp": datetime.now(UTC)}]), args.metrics)  # fmt: skip
        figures[f"Search by Parents.ExperimentName over {args.components} runs (ms)"] = _median_ms(
            lambda: sm.search(Resource="ExperimentTrialComponent", MaxResults=100,
                              SearchExpression={"Filters": [{"Name": "Parents.ExperimentName",
                                                             "Operator": "Equals",
                                                             "Value": "bench"}]}), 10)  # fmt: skip
    finally:
        emulator.stop()
    print(f"bench.experiments on {machine()}")
    for name, value in figures.items():
        print(f"  {name}: {value:.1f}")
    return figures


if __name__ == "__main__":
    main()
