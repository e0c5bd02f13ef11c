"""smlocal serve against MLflow's `models serve` and MLServer: same model, same row, alternating.

The iris XGBoost model of bench.model_server, converted to each competitor's own format
and served by it from its own virtual environment (bench.competitor_envs builds and caches
them); every arm gets the same one-row request in its own wire format, and its answer is
checked against smlocal's before anything is measured. Rounds rotate the order of the arms,
and each ratio is the median of the per-round ratios smlocal / competitor. No target: these
are comparisons, printed next to the figures issue 18 quoted. A competitor that cannot be
installed or started is skipped with one line saying why.

Run: python -m bench.serving_compare [--rounds N] [--requests N] [--clients N] [--workers N]
     [--only mlflow|mlserver] [--max-seconds S]
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import statistics
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.competitor_envs import (
    Competitor,
    Unavailable,
    cpu_wheel,
    ready_python,
    venv_env,
    xgboost_requirement,
)
from bench.load import CSV_HEADERS, ONE_ROW, LoadResult, run_load
from bench.report import load_options, machine
from tests.support import ServerProcess, free_port, model_server

READY_SECONDS = 180  # MLflow and MLServer import a lot before they answer
ROW = [float(v) for v in ONE_ROW.split(b",")]

MLFLOW = Competitor(
    name="mlflow",
    version="3.17.2",
    # mlflow-skinny has the CLI and the scoring server; pyfunc needs pandas for its input
    packages=["mlflow-skinny==3.17.2", "pandas==3.1.1"],
    no_deps=[],
    probe="import mlflow.xgboost, mlflow.pyfunc.scoring_server, pandas, xgboost",
)
MLSERVER = Competitor(
    name="mlserver",
    version="1.7.1",
    # mlserver-xgboost requires xgboost[scikit-learn], and plain `xgboost`'s wheel pulls the
    # CUDA libraries: the CPU wheel brings the same module, so the runtime goes in without
    # its requirements and scikit-learn is named here
    # (uvloop 0.22+ refuses MLServer 1.7.1's asyncio.get_event_loop() in its workers)
    packages=["mlserver==1.7.1", "scikit-learn==1.9.1", "uvloop==0.21.0"],
    no_deps=["mlserver-xgboost==1.7.1"],
    probe="import mlserver, mlserver_xgboost, xgboost",
)

# smlocal serve's workers run XGBoost on one thread each; without this, OpenMP's threads in
# every worker fight over the cores
ONE_THREAD = {"OMP_NUM_THREADS": "1"}

# issue 18's opening paragraph: smlocal serve's throughput over each competitor's
ISSUE_FIGURES = {
    "MLflow default": "7-8x (issue 18, setup not stated)",
    "MLflow matched": "7-8x (issue 18, setup not stated)",
    "MLServer default": "11x (issue 18)",
    "MLServer tuned": "2.3-2.7x (issue 18)",
}


@dataclass(frozen=True)
class Request:
    """One arm's one-row request in its own wire format, and how to read its prediction."""

    path: str
    body: bytes
    headers: dict[str, str]
    prediction: Callable[[bytes], float]


@dataclass
class Arm:
    """A server under load, what it runs, and its per-round results."""

    name: str
    server: ServerProcess
    request: Request
    ready_path: str
    setup: str
    results: list[LoadResult] = field(default_factory=list)

    def rps(self) -> float:
        return statistics.median(r.rps for r in self.results)


def csv_prediction(body: bytes) -> float:
    return float(body.decode().split()[0])


def mlflow_prediction(body: bytes) -> float:
    return float(json.loads(body)["predictions"][0])


def v2_prediction(body: bytes) -> float:
    return float(json.loads(body)["outputs"][0]["data"][0])


SMLOCAL_REQUEST = Request("/invocations", ONE_ROW, CSV_HEADERS, csv_prediction)
# MLflow reads CSV with pandas, first line as the header (a "split"-oriented DataFrame)
MLFLOW_REQUEST = Request(
    "/invocations",
    b"0,1,2,3\n" + ONE_ROW + b"\n",
    {"Content-Type": "text/csv"},
    mlflow_prediction,
)
# the V2 inference protocol's one tensor of shape [1, 4]
V2_BODY = {"inputs": [{"name": "predict", "shape": [1, 4], "datatype": "FP32", "data": ROW}]}
MLSERVER_REQUEST = Request(
    "/v2/models/iris/infer",
    json.dumps(V2_BODY).encode(),
    {"Content-Type": "application/json"},
    v2_prediction,
)


def smlocal_arm(model: Path, work: Path, args: argparse.Namespace) -> Arm:
    env = {"SMLOCAL_WORKER_THREADS": str(args.threads)}
    server = model_server(model, work / "smlocal.log", workers=args.workers, env=env)
    setup = f"smlocal serve, {args.workers} workers x {args.threads} threads (XGBoost on one"
    setup += " thread); CSV"
    return Arm("smlocal serve", server, SMLOCAL_REQUEST, "/ping", setup)


def mlflow_arms(model: Path, work: Path, args: argparse.Namespace) -> list[Arm]:
    """MLflow's scoring server at its defaults, and matched to smlocal serve: as many
    workers, XGBoost on one thread in each."""
    python = ready_python(MLFLOW)
    saved = work / "mlflow-model"
    save = (
        "import sys, mlflow.xgboost, xgboost as xgb\n"
        "booster = xgb.Booster()\n"
        "booster.load_model(bytearray(open(sys.argv[1], 'rb').read()))\n"
        "mlflow.xgboost.save_model(booster, sys.argv[2], model_format='json',"
        " pip_requirements=[])\n"
    )
    _convert([str(python), "-c", save, str(model / "xgboost-model"), str(saved)], "MLflow")
    arms = []
    variants: list[tuple[str, list[str], dict[str, str]]] = [
        ("MLflow default", [], {}),
        ("MLflow matched", ["-w", str(args.workers)], ONE_THREAD),
    ]
    for name, options, env in variants:
        port = free_port()
        command = [str(MLFLOW.script("mlflow")), "models", "serve", "-m", str(saved)]
        command += ["-h", "127.0.0.1", "-p", str(port), "--env-manager", "local", *options]
        log = work / f"{name.replace(' ', '-')}.log"
        server_env = {**venv_env(MLFLOW), **env}
        server = ServerProcess(command, port=port, log_path=log, env=server_env, cwd=work)
        shown = " ".join([*options, *(f"{k}={v}" for k, v in env.items())]) or "defaults"
        setup = f"mlflow models serve --env-manager local, {shown}; CSV with a header row"
        arms.append(Arm(name, server, MLFLOW_REQUEST, "/ping", setup))
    return arms


def mlserver_arms(model: Path, work: Path, args: argparse.Namespace) -> list[Arm]:
    """MLServer at its defaults, and tuned as smlocal serve is: as many inference workers,
    XGBoost on one thread in each, no request log, no metrics server."""
    ready_python(MLSERVER)
    tuned = {"parallel_workers": args.workers, "metrics_endpoint": None, "debug": False}
    arms = []
    variants: list[tuple[str, dict[str, object], dict[str, str]]] = [
        ("MLServer default", {}, {}),
        ("MLServer tuned", tuned, ONE_THREAD),
    ]
    for name, extra, env in variants:
        folder = work / name.replace(" ", "-")
        folder.mkdir()
        shutil.copyfile(model / "xgboost-model", folder / "model.json")  # XGBoost JSON
        port = free_port()
        settings = {
            "host": "127.0.0.1",
            "http_port": port,
            "grpc_port": free_port(),
            "metrics_port": free_port(),
            **extra,
        }
        model_settings = {
            "name": "iris",
            "implementation": "mlserver_xgboost.XGBoostModel",
            "parameters": {"uri": "./model.json"},
        }
        (folder / "settings.json").write_text(json.dumps(settings))
        (folder / "model-settings.json").write_text(json.dumps(model_settings))
        command = [str(MLSERVER.script("mlserver")), "start", str(folder)]
        log = work / f"{folder.name}.log"
        server_env = {**venv_env(MLSERVER), **env}
        server = ServerProcess(command, port=port, log_path=log, env=server_env, cwd=work)
        shown = ", ".join(f"{k}={v}" for k, v in {**extra, **env}.items()) or "defaults"
        setup = f"mlserver start, {shown} (and host, ports); V2 inference JSON"
        arms.append(Arm(name, server, MLSERVER_REQUEST, "/v2/models/iris/ready", setup))
    return arms


def _convert(command: list[str], who: str) -> None:
    try:
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=300)
    except subprocess.TimeoutExpired:
        raise Unavailable(f"converting the model for {who} took over 300 s") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no error printed"])[-1]
        raise Unavailable(f"converting the model for {who} failed: {last}")


def post(port: int, request: Request) -> bytes:
    """One request; the answer's body (any status but 200 is an error)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", request.path, body=request.body, headers=request.headers)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise RuntimeError(f"status {response.status}: {body[:300]!r}")
    return body


def measure(arm: Arm, args: argparse.Namespace, requests: int) -> LoadResult:
    """One bounded round against one arm; any failed request stops the benchmark."""
    r = arm.request
    result = run_load(
        arm.server.port,
        r.path,
        r.body,
        r.headers,
        clients=args.clients,
        requests=requests,
        max_seconds=args.max_seconds,
    )
    if result.errors:
        raise RuntimeError(f"{arm.name}: {result.errors} failed requests: {result.statuses}")
    return result


def competitors(model: Path, work: Path, args: argparse.Namespace) -> tuple[list[Arm], list[str]]:
    """The competitors' arms that could be set up, and one line per one that could not."""
    makers: dict[str, Callable[[Path, Path, argparse.Namespace], list[Arm]]] = {
        "mlflow": mlflow_arms,
        "mlserver": mlserver_arms,
    }
    arms: list[Arm] = []
    skipped: list[str] = []
    for key, make in makers.items():
        if args.only and key != args.only:
            continue
        try:
            arms += make(model, work, args)
        except Unavailable as exc:
            skipped.append(f"{key} skipped: {exc}")
    return arms, skipped


def start(arms: list[Arm]) -> tuple[list[Arm], list[str]]:
    """Start every server and check each competitor's prediction against smlocal's (the
    first arm); drop a competitor that never gets ready or answers differently, with the
    reason. smlocal failing stops the benchmark."""
    for arm in arms:
        arm.server.start()
    ours = arms[0]
    ours.server.wait_ready(ours.ready_path)
    expected = ours.request.prediction(post(ours.server.port, ours.request))
    running = [ours]
    skipped: list[str] = []
    for arm in arms[1:]:
        try:
            arm.server.wait_ready(arm.ready_path, timeout=READY_SECONDS)
            got = arm.request.prediction(post(arm.server.port, arm.request))
        except (RuntimeError, TimeoutError, OSError, ValueError, LookupError, TypeError) as exc:
            skipped.append(f"{arm.name} skipped: {_first_line(exc)}")
            arm.server.stop()
            continue
        if got != expected:
            skipped.append(f"{arm.name} skipped: predicts {got!r}, smlocal {expected!r}")
            arm.server.stop()
            continue
        running.append(arm)
    return running, skipped


def run_rounds(arms: list[Arm], args: argparse.Namespace) -> tuple[list[Arm], list[str]]:
    """A warm-up round, then args.rounds rounds in rotating order; a competitor whose
    requests fail is dropped with the reason (smlocal's failing stops the benchmark)."""
    live = list(arms)
    dropped: list[str] = []
    for i in range(args.rounds + 1):  # round 0: imports, first predictions, connections
        requests = args.requests if i else min(300, args.requests)
        for arm in live[i % len(live) :] + live[: i % len(live)]:
            try:
                result = measure(arm, args, requests)
            except RuntimeError as exc:
                if arm is arms[0]:
                    raise
                dropped.append(f"{arm.name} dropped in round {i}: {_first_line(exc)}")
                arm.server.stop()
                live.remove(arm)
                continue
            if i:
                arm.results.append(result)
    return live, dropped


def stop_all(arms: list[Arm]) -> None:
    """Stop every server at once: each may take its grace period (uvicorn waits for the
    connections of a round cut short by Ctrl-C)."""
    stoppers = [threading.Thread(target=arm.server.stop) for arm in arms]
    for t in stoppers:
        t.start()
    for t in stoppers:
        t.join()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def print_results(arms: list[Arm], skipped: list[str], args: argparse.Namespace) -> None:
    """Per-round throughput of every arm, medians, and smlocal's ratio to each competitor."""
    print("\n== serving: smlocal serve vs MLflow and MLServer (iris XGBoost, 1 row per request)")
    print(f"   machine: {machine()}")
    print(
        f"   setup: {args.clients} keep-alive clients, {args.requests} requests per round "
        f"(at most {args.max_seconds:g} s), {args.rounds} rounds, arms in rotating order"
    )
    for arm in arms:
        print(f"     {arm.name}: {arm.setup}")
    for line in skipped:
        print(f"   {line}")
    width = max(len(a.name) for a in arms) + 2
    print("   round " + "".join(f"{a.name:>{width}}" for a in arms) + "   (req/s)")
    for i in range(len(arms[0].results)):
        print(f"   {i + 1:>5} " + "".join(f"{a.results[i].rps:>{width}.0f}" for a in arms))
    for arm in arms:
        p50 = statistics.median(r.p50 for r in arm.results)
        p99 = statistics.median(r.p99 for r in arm.results)
        print(f"   median {arm.name}: {arm.rps():.0f} req/s, p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    ours = arms[0]
    for arm in arms[1:]:
        ratios = [a.rps / b.rps for a, b in zip(ours.results, arm.results, strict=True)]
        print(
            f"   smlocal / {arm.name}: {statistics.median(ratios):.2f}x throughput "
            f"(median of per-round ratios; {min(ratios):.2f}-{max(ratios):.2f}); "
            f"earlier: {ISSUE_FIGURES[arm.name]}"
        )


def main(argv: list[str] | None = None) -> list[Arm]:
    parser = load_options(__doc__, rounds=5, requests=2000)
    parser.add_argument("--only", choices=["mlflow", "mlserver"], help="one competitor")
    parser.add_argument("--max-seconds", type=float, default=30, help="time limit per round")
    args = parser.parse_args(argv)

    from smlocal.model_server.example import train_iris_in_subprocess

    work = Path(tempfile.mkdtemp(prefix="smlocal-bench-compare-"))
    model = train_iris_in_subprocess(work / "iris", rounds=10)
    print(f"\n   competitors' XGBoost: {xgboost_requirement()} ({cpu_wheel()}: no CUDA)")
    their_arms, skipped = competitors(model, work, args)
    everyone = [smlocal_arm(model, work, args), *their_arms]
    try:
        arms, not_started = start(everyone)
        skipped += not_started
        if len(arms) > 1:
            arms, dropped = run_rounds(arms, args)
            skipped += dropped
    finally:
        stop_all(everyone)
    if len(arms) == 1:
        print("\n== serving comparison: no competitor could run here")
        for line in skipped:
            print(f"   {line}")
        return arms
    print_results(arms, skipped, args)
    return arms


if __name__ == "__main__":
    main()
