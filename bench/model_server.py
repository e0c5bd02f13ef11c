"""Our model server against a minimal Flask + gunicorn app, same model, same load, alternating.

Target: our server reaches at least 0.95 of the minimal app's throughput.
Run: python -m bench.model_server [--rounds N] [--requests N] [--clients N] [--workers N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench.load import LoadResult, measure_round
from bench.report import Comparison, load_options, print_comparison
from tests.support import ServerProcess, listening_socket, model_server


def minimal_server(model_dir: Path, log: Path, workers: int, threads: int) -> ServerProcess:
    sock = listening_socket()
    args = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"fd://{sock.fileno()}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--keep-alive",
        "75",
        "--no-control-socket",
        "bench.minimal_app:app",
    ]
    env = {"MODEL_FILE": str(model_dir / "xgboost-model")}
    return ServerProcess(args, port=sock.getsockname()[1], log_path=log, env=env, sockets=[sock])


def measure(server: ServerProcess, args: argparse.Namespace) -> LoadResult:
    return measure_round(server.port, "/invocations", args.clients, args.requests)


def main(argv: list[str] | None = None) -> Comparison:
    args = load_options(__doc__, rounds=7, requests=3000).parse_args(argv)

    from smlocal.model_server.example import train_iris_in_subprocess

    work = Path(tempfile.mkdtemp(prefix="smlocal-bench-"))
    model = train_iris_in_subprocess(work / "iris", rounds=10)
    env = {"SMLOCAL_WORKER_THREADS": str(args.threads)}
    ours = model_server(model, work / "ours.log", workers=args.workers, env=env)
    minimal = minimal_server(model, work / "minimal.log", args.workers, args.threads)
    comparison = Comparison(
        "model server: smlocal serve vs minimal Flask app (iris XGBoost, 1-row CSV)",
        "smlocal serve",
        "minimal app",
        target_ratio=0.95,
    )
    with ours, minimal:
        ours.wait_ready()
        minimal.wait_ready()
        for server in (ours, minimal):  # warm-up: imports, first predictions, connections
            measure_round(server.port, "/invocations", args.clients, 300)
        for i in range(args.rounds):
            pair = [(ours, comparison.a), (minimal, comparison.b)]
            for server, results in pair if i % 2 == 0 else reversed(pair):
                results.append(measure(server, args))
    print_comparison(
        comparison,
        extra=f"{args.workers} workers x {args.threads} threads, "
        f"{args.clients} clients, {args.requests} requests per round",
    )
    return comparison


if __name__ == "__main__":
    main()
