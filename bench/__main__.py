"""`make bench`: every benchmark, one after the other, each printing its side-by-side figures."""

from __future__ import annotations

import importlib
import sys

BENCHMARKS = [
    "bench.model_server",
    "bench.serving_compare",
    "bench.capture",
    "bench.emulator",
    "bench.edge_server",
    "bench.monitor_baseline",
    "bench.monitor_spark",
    "bench.model_quality",
    "bench.training",
    "bench.s3_durability",
    "bench.faults",
    "bench.processing_scripts",
    "bench.pipelines",
    "bench.transform",
    "bench.tuning",
    "bench.async_inference",
    "bench.console",
    "bench.multi_model",
    "bench.multi_container",
    "bench.serverless_shadow",
    "bench.experiments",
]


def main() -> int:
    """Run the benchmarks named on the command line, or all of them."""
    names = [f"bench.{n}" for n in sys.argv[1:]] or BENCHMARKS
    for name in names:
        importlib.import_module(name).main([])
    return 0


if __name__ == "__main__":
    sys.exit(main())
