"""The edge's HTTP server: smlocal's own (asyncio + httptools callbacks) against uvicorn.

Two emulators side by side, each serving the same iris XGBoost endpoint (1 instance): one
as `smlocal up` runs it, one whose edge is served by uvicorn (httptools parser, uvloop)
instead, through an ASGI adapter that hands each request to the very same edge handler
(guard, routing, runtime, moto). Everything but the HTTP server is the same code. Rounds
alternate between the two; each arm gets `--seconds` in all, and the figures are
InvokeEndpoint's throughput and latency from `--clients` keep-alive clients, and the edge
process's own CPU per request (its model server, a child process, is not counted).
Run: python -m bench.edge_server [--seconds 20] [--rounds 4] [--clients 4] [--instances 1]
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import psutil

from bench.load import CSV_HEADERS, ONE_ROW, LoadResult, run_load
from bench.report import Comparison, load_options, print_comparison
from smlocal.emulator import pytest_plugin
from smlocal.emulator.pytest_plugin import SmlocalEmulator
from smlocal.emulator.wire.http_limits import ConnectionLimits
from smlocal.emulator.wire.http_server import Handler, Request
from tests.conftest import train_iris_tar
from tests.support import ROOT, deploy

CHILD_FLAG = "--child-uvicorn"
PATH = "/endpoints/bench/invocations"
_HOP_BY_HOP = (b"content-length", b"transfer-encoding", b"connection")


class HandlerApp:
    """An ASGI app that hands each request to an edge handler, as smlocal's server does."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler

    async def __call__(self, scope: dict[str, Any], receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        answered: asyncio.Future[tuple[int, list[tuple[str, str]], bytes]]
        answered = asyncio.get_running_loop().create_future()

        def respond(status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
            if not answered.done():
                answered.set_result((status, headers, payload))

        client = scope.get("client")
        request = Request(
            method=scope["method"],
            path=scope["raw_path"].decode("latin-1"),
            query=scope["query_string"].decode("latin-1"),
            headers=list(scope["headers"]),  # uvicorn's names are lower-case already
            body=body,
            http_version=scope["http_version"],
            keep_alive=True,
            client=client[0] if client else "",
        )
        self.handler(request, respond)
        status, headers, payload = await answered
        raw = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers]
        raw = [(n, v) for n, v in raw if n.lower() not in _HOP_BY_HOP]
        raw.append((b"content-length", b"%d" % len(payload)))
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": payload})


class UvicornEdge:
    """What `smlocal.emulator.server` needs of a served edge: close() and wait_closed()."""

    def __init__(self, server: Any, ticker: asyncio.Task[None]) -> None:
        self.server = server
        self.ticker = ticker

    def close(self) -> None:
        self.server.should_exit = True
        for listening in self.server.servers:
            listening.close()
        for connection in list(self.server.server_state.connections):
            connection.shutdown()

    async def wait_closed(self) -> None:
        await self.ticker
        for listening in self.server.servers:
            await listening.wait_closed()


async def serve_on_uvicorn(
    handler: Handler, sock: socket.socket, limits: ConnectionLimits | None = None
) -> Any:
    """`smlocal.emulator.wire.http_server.serve`, done by uvicorn (httptools, this loop);
    of the limits, uvicorn has only the idle timeout."""
    import uvicorn

    idle = (limits or ConnectionLimits()).idle_timeout
    config = uvicorn.Config(
        HandlerApp(handler), http="httptools", loop="none", lifespan="off",
        access_log=False, log_level="warning", timeout_keep_alive=idle, backlog=1024,
    )  # fmt: skip
    config.load()
    server = uvicorn.Server(config)
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    ticker = asyncio.ensure_future(server.main_loop())  # its Date header, once a second
    return UvicornEdge(server, ticker)


def child(argv: list[str]) -> int:
    """`smlocal up` with its edge on uvicorn (run as `python -m bench.edge_server --child-uvicorn
    up ...`)."""
    from smlocal.emulator import server
    from smlocal.emulator.cli import main

    server.serve = serve_on_uvicorn  # type: ignore[assignment]
    return main(argv)


def start_on_uvicorn(emulator: SmlocalEmulator) -> SmlocalEmulator:
    """Start an emulator whose child runs this module instead of smlocal's CLI."""

    def command(module: str, *args: str) -> list[str]:
        return [sys.executable, "-P", "-m", "bench.edge_server", CHILD_FLAG, *args]

    with mock.patch.object(pytest_plugin, "python_module", command):
        return emulator.start()


class Arm:
    """One emulator under load: its results and its own CPU seconds per round."""

    def __init__(self, emulator: SmlocalEmulator) -> None:
        self.emulator = emulator
        assert emulator.proc is not None
        self.process = psutil.Process(emulator.proc.pid)
        self.results: list[LoadResult] = []
        self.cpu_us: list[float] = []  # per request

    def round(self, clients: int, seconds: float) -> None:
        before = self.process.cpu_times()
        result = run_load(
            self.emulator.port, PATH, ONE_ROW, CSV_HEADERS,
            clients=clients, requests=10**9, max_seconds=seconds,
        )  # fmt: skip
        after = self.process.cpu_times()
        if result.errors:
            raise RuntimeError(f"{result.errors} failed requests: {result.statuses}")
        used = (after.user - before.user) + (after.system - before.system)
        self.results.append(result)
        self.cpu_us.append(used / result.requests * 1e6)


def main(argv: list[str] | None = None) -> Comparison:
    parser = load_options(__doc__, rounds=4, requests=0)
    parser.add_argument("--seconds", type=float, default=20.0, help="load seconds per arm")
    parser.add_argument("--instances", type=int, default=1, help="instances (gunicorn workers)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="smlocal-bench-edge-"))
    model_tar = train_iris_tar(work / "iris")
    env = {"PYTHONPATH": str(ROOT)}  # the uvicorn child imports this module
    ours = SmlocalEmulator(work / "ours", env).start()
    theirs = None
    try:
        theirs = start_on_uvicorn(SmlocalEmulator(work / "uvicorn", env))
        arms = [Arm(ours), Arm(theirs)]
        for arm in arms:
            s3, sm = arm.emulator.client("s3"), arm.emulator.client("sagemaker")
            s3.create_bucket(Bucket="models")
            s3.upload_file(str(model_tar), "models", "iris/model.tar.gz")
            variant = {"name": "AllTraffic", "model_data": "s3://models/iris/model.tar.gz"}
            deploy(sm, "bench", [{**variant, "count": args.instances}])
            run_load(
                arm.emulator.port, PATH, ONE_ROW, CSV_HEADERS, clients=args.clients, requests=300
            )
        for i in range(args.rounds):
            for arm in arms if i % 2 == 0 else reversed(arms):
                arm.round(args.clients, args.seconds / args.rounds)
    finally:
        ours.stop()
        if theirs is not None:
            theirs.stop()
    comparison = Comparison(
        "the edge's HTTP server: smlocal's own vs uvicorn (httptools), InvokeEndpoint",
        "smlocal's server",
        "uvicorn",
        target_ratio=1.0,
    )
    comparison.a, comparison.b = arms[0].results, arms[1].results
    print_comparison(
        comparison,
        extra=f"iris XGBoost, {args.instances} instance(s), {args.clients} clients, "
        f"{args.rounds} alternating rounds, {args.seconds:.0f} s per arm",
    )
    for name, arm in (("smlocal's server", arms[0]), ("uvicorn", arms[1])):
        rounds = ", ".join(f"{c:.0f}" for c in arm.cpu_us)
        print(
            f"   edge process CPU per request, {name}: median "
            f"{statistics.median(arm.cpu_us):.0f} µs (rounds: {rounds})"
        )
    return comparison


if __name__ == "__main__":
    if sys.argv[1:2] == [CHILD_FLAG]:
        sys.exit(child(sys.argv[2:]))
    main()
