"""What durable acknowledgements cost on PutObject: the embedded S3's write of one object with
fsync (file and folder) against the same write without, alternating, in one process; then
PutObject through the emulator end to end (boto3, 4 clients), where the 200 now waits for it.

    python -m bench s3_durability
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench.report import machine

SIZES = (1024, 64 * 1024, 1024 * 1024)


def in_process(rounds: int, count: int) -> dict[int, tuple[list[float], list[float]]]:
    """Per size: seconds per write with fsync and without, one figure per round."""
    from moto.s3.models import s3_backends

    from smlocal.emulator.embedded.s3_persistence import S3Persistence, Scope

    backend = s3_backends["123456789012"]["aws"]
    backend.create_bucket("bench-durability", "us-east-1")
    figures: dict[int, tuple[list[float], list[float]]] = {}
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as root:
        arms = {
            True: S3Persistence(Path(root) / "sync"),
            False: S3Persistence(Path(root) / "nosync", sync=False),
        }
        for size in SIZES:
            body = b"x" * size
            synced: list[float] = []
            unsynced: list[float] = []
            for i in range(rounds):
                order = (True, False) if i % 2 == 0 else (False, True)
                for sync in order:
                    started = time.perf_counter()
                    for n in range(count):
                        key = f"k{size}-{n}"
                        backend.put_object("bench-durability", key, body)
                        arms[sync].commit(
                            Scope(touched=[("123456789012", "bench-durability", key)])
                        )
                    (synced if sync else unsynced).append((time.perf_counter() - started) / count)
            figures[size] = (synced, unsynced)
    return figures


def end_to_end(requests: int, clients: int) -> tuple[float, float, float]:
    """PutObject through a real emulator: requests/s, p50 and p99 latency in ms (1 KiB)."""
    from smlocal.emulator.pytest_plugin import SmlocalEmulator

    latencies: list[float] = []
    lock = threading.Lock()
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as root:
        emulator = SmlocalEmulator(Path(root) / "data").start()
        try:
            emulator.client("s3").create_bucket(Bucket="bench")

            def client(index: int) -> None:
                s3 = emulator.client("s3")
                mine = []
                for n in range(requests // clients):
                    started = time.perf_counter()
                    s3.put_object(Bucket="bench", Key=f"{index}/{n}", Body=b"x" * 1024)
                    mine.append(time.perf_counter() - started)
                with lock:
                    latencies.extend(mine)

            started = time.perf_counter()
            threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
        finally:
            emulator.stop()
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    return len(latencies) / elapsed, statistics.median(latencies) * 1e3, p99 * 1e3


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--count", type=int, default=100, help="writes per round and arm")
    parser.add_argument("--requests", type=int, default=2000, help="PutObjects end to end")
    args = parser.parse_args(argv)
    print("\n== Embedded S3: the cost of durable PutObject acknowledgements")
    print(f"   machine: {machine()}; data directory on {Path.cwd()}")
    print(f"   {'object':>8}  {'fsync (ms)':>11}  {'no fsync (ms)':>14}  {'added (ms)':>10}")
    for size, (synced, unsynced) in in_process(args.rounds, args.count).items():
        a, b = statistics.median(synced) * 1e3, statistics.median(unsynced) * 1e3
        print(f"   {size // 1024:>6} KiB  {a:>11.3f}  {b:>14.3f}  {a - b:>10.3f}")
    rps, p50, p99 = end_to_end(args.requests, 4)
    print(
        f"   PutObject through the emulator (1 KiB, 4 clients): {rps:.0f} req/s, "
        f"p50 {p50:.2f} ms, p99 {p99:.2f} ms"
    )


if __name__ == "__main__":
    main()
