"""Crash trials shared by the tests and `python -m bench faults`: writers hammer a real
emulator, it is killed (SIGKILL) mid-write, started again, and every acknowledged write is
looked for. A trial reports what it tried and what was lost (the promise: nothing)."""

from __future__ import annotations

import random
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import botocore.exceptions
from botocore.config import Config

from tests.support import ROLE, XGBOOST_IMAGE

NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


@dataclass
class Trial:
    """One kill: writes acknowledged before it, and those missing (or wrong) after it."""

    acknowledged: int = 0
    lost: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)


def kill(emulator: Any) -> None:
    """SIGKILL the emulator (its model servers follow it) and reap it."""
    emulator.proc.send_signal(signal.SIGKILL)
    emulator.proc.wait()


def _hammer(emulator: Any, work: Any, threads: int, minimum: int, done: Any) -> None:
    """Run work(index, stop) in threads until `done()` reaches minimum, then kill mid-write."""
    stop = threading.Event()
    workers = [threading.Thread(target=work, args=(i, stop)) for i in range(threads)]
    for worker in workers:
        worker.start()
    deadline = time.monotonic() + 120
    while done() < minimum and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(random.random() * 0.3)
    kill(emulator)
    stop.set()
    for worker in workers:
        worker.join(30)


def s3_kill_trial(emulator: Any, bucket: str, writers: int = 6, minimum: int = 100) -> Trial:
    """PutObjects (new keys and overwrites, with metadata), a kill, a start, a check."""
    emulator.client("s3").create_bucket(Bucket=bucket)
    acknowledged: dict[str, tuple[int, bytes]] = {}  # key -> last acknowledged version, body
    lock = threading.Lock()

    def writer(index: int, stop: threading.Event) -> None:
        client = emulator.client("s3", config=NO_RETRIES)
        rng = random.Random()
        version = 0
        while not stop.is_set():
            version += 1
            key = f"w{index}/k{version % 25}"
            body = f"{index}:{version}:".encode() + rng.randbytes(rng.randint(10, 40_000))
            try:
                client.put_object(
                    Bucket=bucket, Key=key, Body=body, Metadata={"version": str(version)}
                )
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
                return  # the emulator is gone
            with lock:
                acknowledged[key] = (version, body)

    _hammer(emulator, writer, writers, minimum, lambda: len(acknowledged))
    emulator.start()
    s3 = emulator.client("s3")
    trial = Trial(acknowledged=len(acknowledged))
    for key, (version, body) in acknowledged.items():
        try:
            found = s3.get_object(Bucket=bucket, Key=key)
        except botocore.exceptions.ClientError:
            trial.lost.append(key)
            continue
        stored, data = int(found["Metadata"]["version"]), found["Body"].read()
        # the last acknowledged write, or a later one that reached the disk unacknowledged
        writer_id = key[1:].split("/")[0]
        if (
            stored < version
            or (stored == version and data != body)
            or not data.startswith(f"{writer_id}:{stored}:".encode())
        ):
            trial.wrong.append(key)
    trial.leftovers = [str(p) for p in (emulator.data_dir / "s3").rglob("*") if ".tmp" in p.name]
    return trial


def store_kill_trial(emulator: Any, prefix: str, creators: int = 6, minimum: int = 60) -> Trial:
    """CreateModels (each with a tag, written in the same transaction), a kill, a check."""
    acknowledged: list[str] = []
    lock = threading.Lock()

    def creator(index: int, stop: threading.Event) -> None:
        sm = emulator.client("sagemaker", config=NO_RETRIES)
        number = 0
        while not stop.is_set():
            number += 1
            name = f"{prefix}{index}-{number}"
            try:
                sm.create_model(
                    ModelName=name,
                    ExecutionRoleArn=ROLE,
                    PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": "s3://b/m.tar.gz"},
                    Tags=[{"Key": "n", "Value": str(number)}],
                )
            except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
                return
            with lock:
                acknowledged.append(name)

    _hammer(emulator, creator, creators, minimum, lambda: len(acknowledged))
    emulator.start()
    sm = emulator.client("sagemaker")
    listed: set[str] = set()
    for page in sm.get_paginator("list_models").paginate(NameContains=prefix):
        listed |= {m["ModelName"] for m in page["Models"]}
    trial = Trial(acknowledged=len(acknowledged))
    trial.lost = sorted(set(acknowledged) - listed)
    for name in acknowledged[-5:]:
        arn = sm.describe_model(ModelName=name)["ModelArn"]
        if not sm.list_tags(ResourceArn=arn)["Tags"]:
            trial.wrong.append(name)
    return trial
