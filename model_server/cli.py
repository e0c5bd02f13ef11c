"""The `smlocal serve` and `smlocal models` subcommands."""

from __future__ import annotations

import argparse
from dataclasses import replace

from smlocal.cli_common import local_path, port_number, positive_int
from smlocal.model_server import convert
from smlocal.model_server.environment import ServerSettings


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `serve` to the smlocal command line."""
    p = commands.add_parser(
        "serve",
        help="run the model server (the SageMaker inference container's `serve`)",
        description="Serve a model over GET /ping and POST /invocations with gunicorn. "
        "Settings come from SageMaker's environment variables; options override them.",
    )
    p.add_argument("--model-dir", type=local_path, help="model folder (default /opt/ml/model)")
    p.add_argument("--model-data", help="a model.tar.gz or s3:// URI to unpack and serve")
    p.add_argument("--host", help="bind address (default 127.0.0.1, SMLOCAL_BIND_HOST)")
    p.add_argument("--port", type=port_number, help="port (default 8080, SAGEMAKER_BIND_TO_PORT)")
    p.add_argument("--bind", help="gunicorn bind string replacing host:port, e.g. fd://3")
    p.add_argument(
        "--workers", type=positive_int, help="worker processes (SAGEMAKER_MODEL_SERVER_WORKERS)"
    )
    p.add_argument(
        "--threads", type=positive_int, help="threads per worker (SMLOCAL_WORKER_THREADS)"
    )
    p.add_argument(
        "--lenient-containers",
        action="store_true",
        default=None,
        help="accept what SageMaker's containers refuse (JSON for XGBoost, one CSV row for "
        "scikit-learn); off by default (SMLOCAL_LENIENT_CONTAINERS=1)",
    )
    p.add_argument(
        "--example",
        action="store_true",
        help="serve the bundled iris XGBoost example (trained into a temporary folder)",
    )
    p.set_defaults(handler=serve)
    convert.register(commands)


def serve(args: argparse.Namespace) -> int:
    """Run the server with the environment's settings, overridden by the options given."""
    from smlocal.model_server.serving import capture_hooks, run

    settings = ServerSettings.from_env()
    options = {
        "model_dir": args.model_dir,
        "model_data": args.model_data,
        "host": args.host,
        "port": args.port,
        "bind": args.bind,
        "workers": args.workers,
        "threads": args.threads,
        "lenient": args.lenient_containers,
    }
    if args.example:
        from smlocal.model_server.example import train_iris_in_subprocess
        from smlocal.model_server.loading import scratch_dir

        options["model_dir"] = train_iris_in_subprocess(scratch_dir() / "iris-xgboost")
    settings = replace(settings, **{k: v for k, v in options.items() if v is not None})
    run(settings, capture_hooks())
    return 0
