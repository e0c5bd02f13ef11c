"""The model server's command line: `smlocal serve` and `smlocal models` as subcommands of
smlocal, and `smlocal-serve` (`python -m smlocal.model_server`) on its own.

`smlocal-serve` imports only the model server and data capture, so a model server (a child of
the emulator, or the model server image) starts without the emulator or Model Monitor.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import replace

from smlocal.cli_common import (
    CommandFailed,
    local_path,
    plain_failure,
    port_number,
    positive_int,
)
from smlocal.model_server import convert
from smlocal.model_server.environment import SMLOCAL_PIPELINE, ServerSettings, SettingsError

PROG = "smlocal-serve"
DESCRIPTION = (
    "Serve a model over GET /ping and POST /invocations with gunicorn. "
    "Settings come from SageMaker's environment variables; options override them."
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `serve` and `models` to the smlocal command line."""
    p = commands.add_parser(
        "serve",
        help="run the model server (the SageMaker inference container's `serve`)",
        description=DESCRIPTION,
    )
    add_serve_options(p)
    p.set_defaults(handler=serve)
    convert.register(commands)


def parser() -> argparse.ArgumentParser:
    """`smlocal-serve`'s parser: the options of `smlocal serve`, after an optional `serve`.

    SageMaker starts an inference container as `docker run IMAGE serve`: the image's entry
    point is this command, so it takes that word (and refuses `train`)."""
    p = argparse.ArgumentParser(prog=PROG, description=DESCRIPTION)
    p.add_argument(
        "mode",
        nargs="?",
        choices=["serve"],
        metavar="serve",
        help="what SageMaker asks a container to do; only `serve` is offered (the default)",
    )
    add_serve_options(p)
    return p


def add_serve_options(p: argparse.ArgumentParser) -> None:
    """The options of `smlocal serve` and `smlocal-serve`."""
    p.add_argument("--model-dir", type=local_path, help="model folder (default /opt/ml/model)")
    p.add_argument("--model-data", help="a model.tar.gz or s3:// URI to unpack and serve")
    p.add_argument("--host", help="bind address (default 127.0.0.1, SMLOCAL_BIND_HOST)")
    p.add_argument("--port", type=port_number, help="port (default 8080, SAGEMAKER_BIND_TO_PORT)")
    p.add_argument("--bind", help="gunicorn bind string replacing host:port, e.g. fd://3")
    p.add_argument(
        "--also-bind",
        action="append",
        metavar="BIND",
        help="another gunicorn bind string to serve besides, e.g. unix:/run/model.sock, or "
        "fd://N when --bind is one too (repeatable)",
    )
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


def serve(args: argparse.Namespace) -> int:
    """Run the server with the environment's settings, overridden by the options given."""
    from smlocal.model_server.serving import WORKER_BOOT_ERROR, capture_hooks, run

    settings = ServerSettings.from_env()
    options = {
        "model_dir": args.model_dir,
        "model_data": args.model_data,
        "host": args.host,
        "port": args.port,
        "bind": args.bind,
        "also_bind": tuple(args.also_bind) if args.also_bind else None,
        "workers": args.workers,
        "threads": args.threads,
        "lenient": args.lenient_containers,
    }
    if args.example:
        from smlocal.model_server.example import train_iris_in_subprocess
        from smlocal.model_server.loading import scratch_dir

        options["model_dir"] = train_iris_in_subprocess(scratch_dir() / "iris-xgboost")
    settings = replace(settings, **{k: v for k, v in options.items() if v is not None})
    inherited = [b.startswith("fd://") for b in (settings.bind_address, *settings.also_bind)]
    if any(inherited) and not all(inherited):
        # gunicorn would serve the inherited sockets and silently drop the addresses
        raise SettingsError("--bind and --also-bind take either only fd://N or only addresses")
    front = os.environ.get(SMLOCAL_PIPELINE)  # a multi-container instance's front
    try:
        if front:
            from smlocal.model_server.pipeline import PipelineSpec
            from smlocal.model_server.pipeline_serving import run_pipeline

            run_pipeline(settings, PipelineSpec.from_json(front), capture_hooks())
        else:
            run(settings, capture_hooks())
    except SystemExit as exc:  # gunicorn's halt: sys.exit with its status
        if exc.code != WORKER_BOOT_ERROR:
            raise
        raise CommandFailed(
            "a worker ended before it could serve, so the server stopped; the log above says why"
        ) from None
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """`smlocal-serve`: run the model server; failures end as `smlocal serve`'s do (a bad
    setting exits 2, an expected failure 1 with one line, Ctrl-C 130)."""
    args = parser().parse_args(argv)
    try:
        return serve(args)
    except SettingsError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        line = plain_failure(exc, "serve")
        if line is None:
            raise
        print(f"{PROG}: {line}", file=sys.stderr)
        return 1
