"""`python -m smlocal.model_monitor.analyze CONFIG`: the analyzer container's program, locally.

Like the real image's `/opt/program/analyze`, it takes its parameters from the
`Environment` of a processing job configuration (`processingjobconfig.json`), writes the
one-line outcome to the message file, and exits 0, or 255 when the analysis failed. The
per-feature CloudWatch metrics, when asked for, are written as JSON lines (the BYOC metric
file shape) into `CLOUDWATCH_METRICS_DIRECTORY`, for the platform to publish.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from smlocal.model_monitor.contract import FAILED
from smlocal.model_monitor.job import run_analysis

FAILURE_EXIT = 255


def main(argv: Sequence[str] | None = None) -> int:
    """Run the analysis a processing job configuration describes."""
    parser = argparse.ArgumentParser(prog="python -m smlocal.model_monitor.analyze")
    parser.add_argument("config", type=Path, help="processingjobconfig.json")
    parser.add_argument("--message-file", type=Path, required=True)
    args = parser.parse_args(argv)
    environment = json.loads(args.config.read_text())["Environment"]

    def log(line: str) -> None:
        print(line, flush=True)

    result = run_analysis(environment, message_file=args.message_file, log=log)
    metrics_dir = environment.get("CLOUDWATCH_METRICS_DIRECTORY")
    if result.metrics and metrics_dir:
        folder = Path(metrics_dir)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "metrics.jsonl", "w") as out:
            for metric in result.metrics:
                out.write(json.dumps({"Namespace": metric.namespace, **metric.document()}) + "\n")
    return FAILURE_EXIT if result.status == FAILED else 0


if __name__ == "__main__":
    sys.exit(main())
