"""Job logs into the emulator's CloudWatch Logs when jobs start together.

A tuning job's parallel training jobs reach the log shipper at the same moment. In a fresh
process (botocore builds a client's exception classes on first use, unlocked), several
threads create the same log group at once against a real emulator: none may fail, and every
stream gets its line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from smlocal.emulator.pytest_plugin import SmlocalEmulator
from tests.support import ROOT, unique

RACE = textwrap.dedent(
    """
    import json, sys, threading
    from smlocal.emulator.settings import EmulatorSettings
    from smlocal.emulator.support.cloudwatch import LogShipper

    port, group, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    sys.setswitchinterval(1e-6)  # hand the GIL over often: the threads interleave finely
    shipper = LogShipper(EmulatorSettings(port=port))
    shipper.logs  # the client exists; its exception classes do not yet
    barrier = threading.Barrier(count)
    failures = []

    def start(i):
        barrier.wait()
        try:
            stream = shipper.stream(group, f"job-{i}")
            stream.append(f"line of job {i}")
            stream.close()
        except Exception as exc:
            failures.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=start, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(failures))
    """
)


def test_jobs_starting_together_all_get_their_log_streams(smlocal: SmlocalEmulator) -> None:
    logs = smlocal.client("logs")
    for attempt in range(5):  # each attempt is a fresh process: a fresh first use
        group = f"/aws/sagemaker/TrainingJobs-{unique('race')}"
        done = subprocess.run(
            [sys.executable, "-c", RACE, str(smlocal.port), group, "8"],
            cwd=ROOT,
            env={**os.environ, **smlocal.env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == [], f"attempt {attempt}"
        streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
        assert sorted(s["logStreamName"] for s in streams) == [f"job-{i}" for i in range(8)]
        for i in range(8):
            events = logs.get_log_events(logGroupName=group, logStreamName=f"job-{i}")["events"]
            assert [e["message"] for e in events] == [f"line of job {i}"]
