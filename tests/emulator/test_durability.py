"""What the emulator acknowledges is durable: S3 objects and control-plane resources survive a
kill -9 mid-write, and on a full disk a write answers 500 and leaves nothing behind (no
phantom that a retry trips over, nothing that vanishes at the next start)."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import botocore.exceptions
import pytest

from tests.faults import NO_RETRIES, kill, s3_kill_trial, store_kill_trial
from tests.support import ROLE, XGBOOST_IMAGE, deploy, unique


@contextmanager
def small_filesystem(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted at path (root only; skipped with the reason elsewhere)."""
    if os.geteuid() != 0:
        pytest.skip("filling a disk needs a small file system: mounting a tmpfs needs root")
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(folder: Path) -> Path:
    """Fill folder's file system to the last byte; return the filler to remove later."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 1 << 12, 1):
            block = b"\0" * size
            while True:
                try:
                    os.write(fd, block)
                except OSError:
                    break
    finally:
        os.close(fd)
    return filler


def test_acknowledged_s3_writes_survive_a_kill_mid_write(smlocal_factory) -> None:
    trial = s3_kill_trial(smlocal_factory(), "durable")
    assert trial.acknowledged >= 100
    assert (trial.lost, trial.wrong, trial.leftovers) == ([], [], [])


def test_acknowledged_resources_survive_a_kill_mid_write(smlocal_factory) -> None:
    trial = store_kill_trial(smlocal_factory(), "m")
    assert trial.acknowledged >= 60
    assert (trial.lost, trial.wrong) == ([], [])


def test_a_full_disk_refuses_s3_writes_and_capture_waits_for_space(
    tmp_path: Path, iris_tar: Path
) -> None:
    data = tmp_path / "data"
    with small_filesystem(data / "s3", "4m") as s3_root:
        from smlocal.emulator.pytest_plugin import SmlocalEmulator

        emulator = SmlocalEmulator(data).start()
        try:
            s3 = emulator.client("s3", config=NO_RETRIES)
            s3.create_bucket(Bucket="full")
            s3.put_object(Bucket="full", Key="before", Body=b"acknowledged")
            model = tmp_path / "model"
            model.mkdir()
            subprocess.run(["tar", "-xzf", str(iris_tar), "-C", str(model)], check=True)
            sm = emulator.client("sagemaker")
            name = unique("full")
            capture = {
                "EnableCapture": True,
                "InitialSamplingPercentage": 100,
                "DestinationS3Uri": "s3://full/capture",
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            }
            deploy(sm, name, [{"name": "AllTraffic", "model_data": str(model)}], capture=capture)
            filler = fill(s3_root)

            with pytest.raises(botocore.exceptions.ClientError) as refused:
                s3.put_object(Bucket="full", Key="during", Body=b"x" * 100_000)
            assert refused.value.response["Error"]["Code"] == "InternalError"
            assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
            with pytest.raises(botocore.exceptions.ClientError) as missing:
                s3.head_object(Bucket="full", Key="during")
            assert missing.value.response["Error"]["Code"] == "404"
            assert not [p for p in s3_root.rglob("*") if ".tmp" in p.name]

            runtime = emulator.client("sagemaker-runtime")
            for _ in range(5):
                runtime.invoke_endpoint(
                    EndpointName=name, ContentType="text/csv", Body=b"5.1,3.5,1.4,0.2"
                )
            spool = data / "capture-spool"
            time.sleep(3)  # files roll after 1 s and their uploads are refused
            assert "Contents" not in s3.list_objects_v2(Bucket="full", Prefix="capture/")
            assert [p for p in spool.rglob("*.jsonl")], "the records wait in the spool"

            filler.unlink()
            deadline = time.monotonic() + 60
            captured = 0
            while captured < 5:
                assert time.monotonic() < deadline, emulator.log()[-2000:]
                time.sleep(0.5)
                listed = s3.list_objects_v2(Bucket="full", Prefix="capture/").get("Contents", [])
                captured = sum(
                    s3.get_object(Bucket="full", Key=o["Key"])["Body"].read().count(b"\n")
                    for o in listed
                )
            assert captured == 5

            emulator.restart()
            s3 = emulator.client("s3")
            assert s3.get_object(Bucket="full", Key="before")["Body"].read() == b"acknowledged"
            with pytest.raises(botocore.exceptions.ClientError):
                s3.head_object(Bucket="full", Key="during")
            listed = s3.list_objects_v2(Bucket="full", Prefix="capture/")["Contents"]
            assert (
                sum(
                    s3.get_object(Bucket="full", Key=o["Key"])["Body"].read().count(b"\n")
                    for o in listed
                )
                == 5
            )
        finally:
            emulator.stop()


def test_a_full_disk_keeps_versions_and_multipart_uploads_retryable(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with small_filesystem(data / "s3", "2m") as s3_root:
        from smlocal.emulator.pytest_plugin import SmlocalEmulator

        emulator = SmlocalEmulator(data).start()
        try:
            s3 = emulator.client("s3", config=NO_RETRIES)
            s3.create_bucket(Bucket="versioned")
            s3.put_bucket_versioning(
                Bucket="versioned", VersioningConfiguration={"Status": "Enabled"}
            )
            s3.put_object(Bucket="versioned", Key="doc", Body=b"v1")
            upload = s3.create_multipart_upload(Bucket="versioned", Key="big")
            part = s3.upload_part(
                Bucket="versioned", Key="big", UploadId=upload["UploadId"], PartNumber=1,
                Body=b"p" * 300_000,
            )  # fmt: skip
            parts = {"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]}
            filler = fill(s3_root)

            with pytest.raises(botocore.exceptions.ClientError) as refused:
                s3.put_object(Bucket="versioned", Key="doc", Body=b"v2" * 50_000)
            assert refused.value.response["Error"]["Code"] == "InternalError"
            versions = s3.list_object_versions(Bucket="versioned", Prefix="doc")["Versions"]
            assert [v["Size"] for v in versions] == [2]  # the refused write left no version
            assert s3.get_object(Bucket="versioned", Key="doc")["Body"].read() == b"v1"
            with pytest.raises(botocore.exceptions.ClientError) as refused:
                s3.complete_multipart_upload(
                    Bucket="versioned", Key="big", UploadId=upload["UploadId"],
                    MultipartUpload=parts,
                )  # fmt: skip
            assert refused.value.response["Error"]["Code"] == "InternalError"

            filler.unlink()
            s3.complete_multipart_upload(  # S3 said "try again": the upload is still there
                Bucket="versioned", Key="big", UploadId=upload["UploadId"], MultipartUpload=parts
            )
            emulator.restart()
            s3 = emulator.client("s3")
            assert s3.get_object(Bucket="versioned", Key="big")["Body"].read() == b"p" * 300_000
            assert s3.get_object(Bucket="versioned", Key="doc")["Body"].read() == b"v1"
        finally:
            emulator.stop()


def test_a_refused_write_undoes_only_itself(tmp_path: Path) -> None:
    """On a nearly full disk, a big write is refused while small ones to the same key are
    acknowledged around it: each acknowledged one stays readable, now and after kill -9;
    a refused overwrite or CreateBucket leaves the old object and the name usable."""
    data = tmp_path / "data"
    with small_filesystem(data / "s3", "4m") as s3_root:
        from smlocal.emulator.pytest_plugin import SmlocalEmulator

        emulator = SmlocalEmulator(data).start()
        try:
            s3 = emulator.client("s3", config=NO_RETRIES)
            s3.create_bucket(Bucket="tight")
            s3.put_object(Bucket="tight", Key="keep", Body=b"old-value")
            filler = fill(s3_root)
            os.truncate(filler, max(0, filler.stat().st_size - 256 * 1024))  # room for small

            acknowledged: dict[str, bytes] = {}

            def big(key: str) -> None:
                with contextlib.suppress(botocore.exceptions.ClientError):
                    emulator.client("s3", config=NO_RETRIES).put_object(
                        Bucket="tight", Key=key, Body=b"B" * 1_000_000
                    )

            for n in range(30):
                key = f"race-{n}"
                thread = threading.Thread(target=big, args=(key,))
                thread.start()
                body = f"small-{n}".encode()
                try:
                    s3.put_object(Bucket="tight", Key=key, Body=body)
                    acknowledged[key] = body
                except botocore.exceptions.ClientError:
                    pass
                thread.join()
                if key in acknowledged:
                    found = s3.get_object(Bucket="tight", Key=key)["Body"].read()
                    assert found in (body, b"B" * 1_000_000), key  # the last writer's, whole
                    acknowledged[key] = found
            assert acknowledged, "no small write fitted"

            filler.unlink()
            fill(s3_root)
            with pytest.raises(botocore.exceptions.ClientError):
                s3.put_object(Bucket="tight", Key="keep", Body=b"n" * 500_000)
            with pytest.raises(botocore.exceptions.ClientError):
                s3.create_bucket(Bucket="refused")
            (s3_root / "filler").unlink()
            assert s3.get_object(Bucket="tight", Key="keep")["Body"].read() == b"old-value"
            s3.copy_object(
                Bucket="tight", Key="copy", CopySource={"Bucket": "tight", "Key": "keep"}
            )
            s3.create_bucket(Bucket="refused")  # the name is free again
            s3.put_object(Bucket="refused", Key="k", Body=b"k")

            kill(emulator)
            emulator.start()
            s3 = emulator.client("s3")
            for key, body in acknowledged.items():
                assert s3.get_object(Bucket="tight", Key=key)["Body"].read() == body, key
            assert s3.get_object(Bucket="tight", Key="copy")["Body"].read() == b"old-value"
        finally:
            emulator.stop()


def test_what_an_object_carries_survives_a_restart(smlocal_factory) -> None:
    emulator = smlocal_factory()
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="kept")
    s3.put_bucket_versioning(Bucket="kept", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="kept", Key="gone", Body=b"x")
    s3.delete_object(Bucket="kept", Key="gone")  # a delete marker in a versioned bucket
    s3.put_object(
        Bucket="kept", Key="cold", Body=b"c", StorageClass="STANDARD_IA",
        ContentType="text/plain", Metadata={"who": "me"}, ChecksumAlgorithm="SHA256",
    )  # fmt: skip
    upload = s3.create_multipart_upload(Bucket="kept", Key="parts")
    etags = [
        s3.upload_part(
            Bucket="kept", Key="parts", UploadId=upload["UploadId"], PartNumber=n,
            Body=bytes([n]) * (5 * 1024 * 1024 if n == 1 else 10),
        )["ETag"]
        for n in (1, 2)
    ]  # fmt: skip
    completed = s3.complete_multipart_upload(
        Bucket="kept", Key="parts", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"ETag": e, "PartNumber": n} for n, e in enumerate(etags, 1)]},
    )  # fmt: skip
    before = s3.head_object(Bucket="kept", Key="cold", ChecksumMode="ENABLED")

    emulator.restart()
    s3 = emulator.client("s3")
    assert s3.get_bucket_versioning(Bucket="kept")["Status"] == "Enabled"
    with pytest.raises(botocore.exceptions.ClientError, match="NoSuchKey"):
        s3.get_object(Bucket="kept", Key="gone")
    after = s3.head_object(Bucket="kept", Key="cold", ChecksumMode="ENABLED")
    for field in ("StorageClass", "ContentType", "Metadata", "ChecksumSHA256", "ETag"):
        assert after.get(field) == before.get(field), field
    assert s3.head_object(Bucket="kept", Key="parts")["ETag"] == completed["ETag"]
    assert completed["ETag"].endswith('-2"')


def test_a_full_disk_leaves_no_phantom_resource(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with small_filesystem(data, "6m"):
        from smlocal.emulator.pytest_plugin import SmlocalEmulator

        emulator = SmlocalEmulator(data).start()
        try:
            sm = emulator.client("sagemaker", config=NO_RETRIES)
            environment = {f"VAR_{i}": "v" * 1000 for i in range(40)}  # about 40 kB a model
            filler = fill(data)
            acknowledged, refused = [], []
            for number in range(30):
                name = f"phantom-{number}"
                try:
                    sm.create_model(
                        ModelName=name,
                        ExecutionRoleArn=ROLE,
                        PrimaryContainer={
                            "Image": XGBOOST_IMAGE,
                            "ModelDataUrl": "s3://b/m.tar.gz",
                            "Environment": environment,
                        },
                    )
                except botocore.exceptions.ClientError as exc:
                    refused.append((name, exc.response))
                    continue
                acknowledged.append(name)
            assert refused, "the disk never filled up"
            for name, response in refused:
                assert response["ResponseMetadata"]["HTTPStatusCode"] == 500
                assert response["Error"]["Code"] == "InternalFailure"
                with pytest.raises(botocore.exceptions.ClientError, match="Could not find"):
                    sm.describe_model(ModelName=name)
            filler.unlink()
            retried = refused[0][0]
            sm.create_model(  # the retry is not told the model already exists
                ModelName=retried,
                ExecutionRoleArn=ROLE,
                PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": "s3://b/m.tar.gz"},
            )
            emulator.restart()
            sm = emulator.client("sagemaker")
            names = {m["ModelName"] for m in sm.list_models(MaxResults=100)["Models"]}
            assert names == {*acknowledged, retried}
        finally:
            emulator.stop()


def test_a_damaged_state_file_is_set_aside_not_fatal(smlocal_factory) -> None:
    import sqlite3

    emulator = smlocal_factory()
    sm = emulator.client("sagemaker")
    for name in ("kept", "broken"):
        sm.create_model(
            ModelName=name,
            ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": "s3://b/m.tar.gz"},
        )
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="damaged")
    for key in ("good", "bad"):
        s3.put_object(Bucket="damaged", Key=key, Body=key.encode())
    emulator.stop()
    db = sqlite3.connect(emulator.data_dir / "state.db")
    db.execute("UPDATE resources SET doc = '{not json' WHERE key = 'broken'")
    for key, doc in (
        ("no-status", {"EndpointName": "no-status", "EndpointArn": "a", "_Plan": {}}),
        ("7", {"EndpointName": 7, "EndpointArn": "a", "EndpointStatus": "InService", "_Plan": {}}),
        ("empty", {}),
    ):
        db.execute(
            "INSERT INTO resources (kind, key, doc) VALUES ('endpoint', ?, ?)",
            (key, json.dumps(doc)),
        )
    db.commit()
    db.close()
    import hashlib

    digest = hashlib.sha256(b"bad").hexdigest()
    [bad] = list((emulator.data_dir / "s3").rglob(f"{digest}*"))
    bad.write_bytes(b"garbage without a metadata line")
    objects = bad.parent
    (objects / ".tmp-a-folder").mkdir()  # not a file a crash left: left alone
    for name, meta in (
        ("infinite", {"key": "infinite", "last_modified": float("inf")}),
        ("huge", {"key": "huge", "last_modified": 1e300}),
        ("number", {"key": 7, "last_modified": 0}),
    ):
        digest = hashlib.sha256(name.encode()).hexdigest()
        (objects / f"{digest}.obj").write_bytes(json.dumps(meta).encode() + b"\nx")
    account = objects.parent.parent
    (account / "-not-a-bucket" / "objects").mkdir(parents=True)
    (account / "-not-a-bucket" / "bucket.json").write_text('{"region": "us-east-1"}')
    (emulator.data_dir / "s3" / "quarantine").write_text("a file where a folder goes")

    emulator.start()
    sm, s3 = emulator.client("sagemaker"), emulator.client("s3")
    assert [m["ModelName"] for m in sm.list_models()["Models"]] == ["kept"]
    assert s3.get_object(Bucket="damaged", Key="good")["Body"].read() == b"good"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="damaged")["Contents"]] == ["good"]
    log = emulator.log()
    assert "cannot be read" in log
    assert "-not-a-bucket is not a bucket's folder" in log
    quarantined = sqlite3.connect(emulator.data_dir / "state.db").execute(
        "SELECT key FROM quarantine"
    )
    assert sorted(row[0] for row in quarantined) == ["7", "broken", "empty", "no-status"]
    assert sm.list_endpoints()["Endpoints"] == []

    emulator.stop()
    (emulator.data_dir / "state.db").write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        Path(f"{emulator.data_dir / 'state.db'}{suffix}").unlink(missing_ok=True)
    emulator.start()
    sm = emulator.client("sagemaker")
    assert sm.list_models()["Models"] == []
    assert list(emulator.data_dir.glob("state.db.corrupt-*"))
    assert json.loads(json.dumps(sm.list_endpoints()))["Endpoints"] == []
