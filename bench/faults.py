"""The fault suite's figures for docs/reliability.md: repeated kill -9 trials against real
emulators (S3 writes and control-plane writes), reporting what was acknowledged before each
kill and what was missing after it. Tests check the same promise once each; this runs it
many times.

    python -m bench faults [--trials N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench.report import machine
from smlocal.emulator.pytest_plugin import SmlocalEmulator
from tests.faults import s3_kill_trial, store_kill_trial


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=10, help="kills of each kind")
    args = parser.parse_args(argv)
    print("\n== Fault suite: kill -9 mid-write, then start again")
    print(f"   machine: {machine()}")
    totals = {"s3": [0, 0, 0], "store": [0, 0, 0]}  # acknowledged, lost, wrong
    started = time.monotonic()
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as root:
        for i in range(args.trials):
            for kind, run in (("s3", s3_kill_trial), ("store", store_kill_trial)):
                emulator = SmlocalEmulator(Path(root) / f"{kind}-{i}").start()
                try:
                    name = f"trial{i}" if kind == "s3" else f"t{i}x"
                    trial = run(emulator, name)
                finally:
                    emulator.stop()
                figures = totals[kind]
                figures[0] += trial.acknowledged
                figures[1] += len(trial.lost)
                figures[2] += len(trial.wrong) + len(trial.leftovers)
    for kind, label in (("s3", "S3 PutObject"), ("store", "CreateModel + tags")):
        acknowledged, lost, wrong = totals[kind]
        print(
            f"   {label:<20} {args.trials} kills, {acknowledged} writes acknowledged before "
            f"them, {lost} lost, {wrong} wrong or left over"
        )
    print(f"   ({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
