"""The runtime hop of two checkouts side by side: a 2-instance endpoint in an emulator run
from each (`--before`, `--after`), and the after checkout's servers called directly, in
rotating order in one run; with the CPU per request of each arm's edge, model servers and
load generator, and the ratio that CPU allows when the cores are the limit.

Not part of `make bench` (it needs a second checkout): for before/after figures on a busy
machine, where only arms measured together compare.
Run: python -m bench.runtime_hop_ab --before /path/to/main [--after .] [--routing RANDOM]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import psutil

from bench.emulator import MODEL, cpu_seconds, instance_servers, listening_port, own_cpu
from bench.load import measure_round
from bench.report import load_options, machine
from smlocal.emulator.pytest_plugin import SmlocalEmulator
from tests.conftest import train_iris_tar
from tests.support import deploy

ROOT = Path(__file__).resolve().parent.parent

# per round and arm: req/s, then CPU microseconds per request of edge, servers, clients, and
# the kernel's part (system time) of the edge's and the servers'
Round = tuple[float, float, float, float, float, float]


def system_seconds(processes: list[psutil.Process]) -> float:
    """System (kernel) CPU seconds so far of processes and their children."""
    total = 0.0
    for process in processes:
        for member in (process, *process.children()):
            try:
                total += member.cpu_times().system
            except psutil.Error:
                continue
    return total


def run_arm(
    port: int | list[int],
    path: str,
    edge: psutil.Process | None,
    servers: list[psutil.Process],
    args: argparse.Namespace,
) -> Round:
    """One round of one arm, with the CPU it cost."""
    edge_before = sum(edge.cpu_times()[:2]) if edge else 0.0
    kernel_before = edge.cpu_times().system if edge else 0.0
    servers_before, mine = sum(cpu_seconds(s) for s in servers), own_cpu()
    servers_kernel_before = system_seconds(servers)
    result = measure_round(port, path, args.clients, args.requests)
    edge_after = sum(edge.cpu_times()[:2]) if edge else 0.0
    kernel_after = edge.cpu_times().system if edge else 0.0
    servers_after, done = sum(cpu_seconds(s) for s in servers), own_cpu()
    servers_kernel_after = system_seconds(servers)
    n = result.requests
    return (
        result.rps,
        (edge_after - edge_before) / n * 1e6,
        (servers_after - servers_before) / n * 1e6,
        (done - mine) / n * 1e6,
        (kernel_after - kernel_before) / n * 1e6,
        (servers_kernel_after - servers_kernel_before) / n * 1e6,
    )


def main(argv: list[str] | None = None) -> None:
    parser = load_options(__doc__, rounds=4, requests=2000)
    parser.add_argument("--before", type=Path, required=True, help="the checkout to compare with")
    parser.add_argument("--after", type=Path, default=ROOT, help="default: this checkout")
    parser.add_argument("--routing", default="RANDOM", help="the variant's RoutingStrategy")
    parser.add_argument("--instances", type=int, default=2)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="smlocal-bench-ab-"))
    model_tar = train_iris_tar(work / "iris")
    emulators: dict[str, SmlocalEmulator] = {}
    try:
        for label, root in (("before", args.before), ("after", args.after)):
            emulator = SmlocalEmulator(work / label, env={"PYTHONPATH": str(root.resolve())})
            emulators[label] = emulator.start()
            s3 = emulator.client("s3")
            s3.create_bucket(Bucket="models")
            s3.upload_file(str(model_tar), "models", "iris/model.tar.gz")
            variant = {
                "name": "AllTraffic",
                "model_data": MODEL,
                "count": args.instances,
                "routing": args.routing,
            }
            deploy(emulator.client("sagemaker"), "hop", [variant])
        arms: dict[
            str, tuple[int | list[int], str, psutil.Process | None, list[psutil.Process]]
        ] = {}
        for label, emulator in emulators.items():
            assert emulator.proc is not None
            servers = instance_servers(emulator, "hop")
            edge = psutil.Process(emulator.proc.pid)
            arms[label] = (emulator.port, "/endpoints/hop/invocations", edge, servers)
        servers = arms["after"][3]
        arms["direct"] = ([listening_port(s) for s in servers], "/invocations", None, servers)
        for port, path, _, _ in arms.values():
            measure_round(port, path, args.clients, 300)  # warm-up
        rounds: dict[str, list[Round]] = {label: [] for label in arms}
        order = list(arms)
        hop = f"{args.instances} instances, {args.routing}"
        print(f"\n== runtime hop, two checkouts side by side ({hop})")
        print(f"   machine: {machine()}")
        for i in range(args.rounds):
            for label in order[i % len(order) :] + order[: i % len(order)]:
                port, path, edge, servers = arms[label]
                rounds[label].append(run_arm(port, path, edge, servers, args))
                rps, e, s, c, ek, sk = rounds[label][-1]
                load = psutil.getloadavg()[0]
                print(
                    f"   round {i + 1} {label:6s} {rps:6.0f} req/s; CPU us per request: edge "
                    f"{e:4.0f} (kernel {ek:3.0f}), servers {s:5.0f} (kernel {sk:3.0f}), "
                    f"clients {c:4.0f} (load {load:.1f})"
                )
        total = {k: statistics.median(r[1] + r[2] + r[3] for r in v) for k, v in rounds.items()}
        for label, rows in rounds.items():
            rps, e, s, c, ek, sk = (statistics.median(column) for column in zip(*rows, strict=True))
            print(
                f"   median {label:6s} {rps:6.0f} req/s; edge {e:4.0f} (kernel {ek:3.0f}), servers "
                f"{s:5.0f} (kernel {sk:3.0f}), clients {c:4.0f}, total {total[label]:5.0f} us"
            )
        for label in ("before", "after"):
            ratios = [a[0] / d[0] for a, d in zip(rounds[label], rounds["direct"], strict=True)]
            print(
                f"   {label}: throughput / direct, median {statistics.median(ratios):.3f} "
                f"({', '.join(f'{r:.3f}' for r in ratios)}); CPU-bound ceiling "
                f"{total['direct'] / total[label]:.3f}"
            )
    finally:
        for emulator in emulators.values():
            emulator.stop()


if __name__ == "__main__":
    main()
