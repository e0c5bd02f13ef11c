"""Data capture overhead: the same model server with capture off and at 100%, same load.

Both servers run side by side; the load alternates between them for several rounds in one
run, so that drift of the shared machine hits both alike. At the end the capturing server is
flushed and the records in S3 (moto, a child process on loopback) are counted: every sampled
record must be there.

Targets: throughput with capture >= 0.95 of without; p99 latency <= 1.10 of without. The
headline figures are medians of the per-round ratios (each round runs both servers back to
back, in alternating order), which cancels most of the drift of a shared machine; pooled
figures over all rounds are printed too, and so is the servers' CPU time per request, which
other load on the machine disturbs much less than throughput.
Run: python -m bench.capture [--rounds N] [--requests N] [--clients N] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import urllib.request
from pathlib import Path

import psutil

from bench.load import LoadResult, measure_round
from bench.report import load_options
from tests.support import ROOT, ServerProcess, listening_socket, model_server

BUCKET = "bench-capture"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def s3_server(work: Path) -> ServerProcess:
    sock = listening_socket()
    script = ROOT / "tests" / "capture_sink" / "s3server.py"
    return ServerProcess(
        [sys.executable, str(script), str(sock.fileno())],
        port=sock.getsockname()[1],
        log_path=work / "moto.log",
        sockets=[sock],
    )


def capture_env(s3_url: str, work: Path) -> dict[str, str]:
    config = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": f"s3://{BUCKET}/datacapture",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
    }
    return {
        **CREDENTIALS,
        "AWS_ENDPOINT_URL_S3": s3_url,
        "SMLOCAL_CAPTURE_CONFIG": json.dumps(config),
        "SMLOCAL_ENDPOINT_NAME": "bench-endpoint",
        "SMLOCAL_CAPTURE_SPOOL_DIR": str(work / "spool"),
    }


def measure(server: ServerProcess, args: argparse.Namespace) -> LoadResult:
    return measure_round(server.port, "/invocations", args.clients, args.requests)


def pooled(results: list[LoadResult]) -> LoadResult:
    latencies = [x for r in results for x in r.latencies_ms]
    seconds = sum(r.seconds for r in results)
    return LoadResult(len(latencies), sum(r.errors for r in results), seconds, latencies)


def count_records(s3_url: str) -> int:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=s3_url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    total = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            total += s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read().count(b"\n")
    return total


def flush(server: ServerProcess) -> dict[str, object]:
    req = urllib.request.Request(f"{server.url}/_smlocal/capture/flush?timeout=120", b"")
    with urllib.request.urlopen(req, timeout=130) as response:
        result: dict[str, object] = json.loads(response.read())
    return result


def row(name: str, r: LoadResult) -> str:
    return f"{name:<16}{r.rps:>9.0f}{r.p50:>9.2f}{r.p99:>9.2f}{r.requests:>9}"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a server: its master and its workers."""
    master = psutil.Process(pid)
    return sum(p.cpu_times().user + p.cpu_times().system for p in [master, *master.children()])


def run_rounds(
    off: ServerProcess, on: ServerProcess, args: argparse.Namespace
) -> tuple[list[LoadResult], list[LoadResult], dict[str, float]]:
    plain: list[LoadResult] = []
    captured: list[LoadResult] = []
    cpu = {"off": 0.0, "capture": 0.0}
    measure(off, args)  # warm both up before anything counts
    measure(on, args)
    print(f"{'round':<16}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'requests':>9}")
    for n in range(1, args.rounds + 1):
        first, second = (off, on) if n % 2 else (on, off)
        for server in (first, second):
            name = "capture" if server is on else "off"
            before = cpu_seconds(server.pid)
            result = measure(server, args)
            cpu[name] += cpu_seconds(server.pid) - before
            (plain if server is off else captured).append(result)
            print(row(f"{n} {name}", result))
    return plain, captured, cpu


def main(argv: list[str] | None = None) -> int:
    args = load_options(__doc__, rounds=16, requests=1500).parse_args(argv)

    from smlocal.model_server.example import train_iris_in_subprocess

    work = Path(tempfile.mkdtemp(prefix="smlocal-bench-capture-"))
    model = train_iris_in_subprocess(work / "iris", rounds=10)
    threads = {"SMLOCAL_WORKER_THREADS": str(args.threads)}
    with s3_server(work) as s3:
        s3.wait_ready(path="/moto-api/")
        urllib.request.urlopen(urllib.request.Request(f"{s3.url}/{BUCKET}", method="PUT"))
        off = model_server(model, work / "off.log", workers=args.workers, env=threads)
        on = model_server(
            model,
            work / "on.log",
            workers=args.workers,
            env={**threads, **capture_env(s3.url, work)},
        )
        with off, on:
            off.wait_ready()
            on.wait_ready()
            print(
                f"capture overhead: iris XGBoost, 1-row CSV, {args.workers} workers x "
                f"{args.threads} threads, {args.clients} clients, {args.requests} requests "
                f"x {args.rounds} rounds each (logs in {work})"
            )
            plain, captured, cpu = run_rounds(off, on, args)
            flushed = flush(on)
            delivered = count_records(s3.url)
    served = args.rounds * args.requests
    off_us, on_us = (cpu[k] / served * 1e6 for k in ("off", "capture"))
    print(f"server CPU per request (master + workers, user + system): off {off_us:.0f} us, "
          f"capture {on_us:.0f} us, ratio {on_us / off_us:.3f}")  # fmt: skip
    return report(plain, captured, flushed, delivered, args)


def report(
    plain: list[LoadResult],
    captured: list[LoadResult],
    flushed: dict[str, object],
    delivered: int,
    args: argparse.Namespace,
) -> int:
    a, b = pooled(plain), pooled(captured)
    print(row("all off", a))
    print(row("all capture", b))
    pairs = list(zip(plain, captured, strict=True))
    rps = sorted(c.rps / p.rps for p, c in pairs)
    p99 = statistics.median(c.p99 / p.p99 for p, c in pairs)
    throughput = statistics.median(rps)
    print(f"throughput capture/off: median {throughput:.3f} of rounds "
          f"(range {rps[0]:.2f}..{rps[-1]:.2f}), pooled {b.rps / a.rps:.3f} "
          f"(target >= 0.95: {'met' if throughput >= 0.95 else 'MISSED'})")  # fmt: skip
    print(f"p99 latency capture/off: median {p99:.3f} of rounds, pooled {b.p99 / a.p99:.3f} "
          f"(target <= 1.10: {'met' if p99 <= 1.10 else 'MISSED'}); "
          f"p50 pooled {b.p50 / a.p50:.3f}")  # fmt: skip
    sent = (args.rounds + 1) * args.requests  # the warm-up round is captured too
    print(f"records in S3 after flush: {delivered} of {sent} sampled; stats {flushed['stats']}")
    return 0 if delivered == sent else 1


if __name__ == "__main__":
    sys.exit(main())
