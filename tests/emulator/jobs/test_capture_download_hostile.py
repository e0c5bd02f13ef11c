"""A monitoring execution downloads capture files into its own folder only: an S3 key with
`..` segments under the capture destination cannot place a file outside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from smlocal.emulator.jobs.processing import download_captures
from smlocal.emulator.jobs.processing_records import CaptureWindow
from smlocal.emulator.jobs.transform_s3 import download_batch_captures

BUCKET = "capture-hostile"
HOUR = "cap/ep/AllTraffic/2026/03/01/10"


def test_capture_keys_with_dot_dot_stay_in_the_job_folder(smlocal: Any, tmp_path: Path) -> None:
    s3 = smlocal.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    up = "../" * 8  # from dest/ep/AllTraffic/2026/03/01/10 to dest's parent and beyond
    keys = [f"{HOUR}/{up}outside-1.jsonl", f"cap/ep/{up}AllTraffic/2026/03/01/10/outside-2.jsonl",
            f"{HOUR}/inside.jsonl"]  # fmt: skip
    for key in keys:
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}\n")
    dest = tmp_path / "a" / "b" / "job" / "input"
    window = CaptureWindow("2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z")
    download_captures(s3, f"s3://{BUCKET}/cap", dest, window)
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["a/b/job/input/ep/AllTraffic/2026/03/01/10/inside.jsonl"]


def test_batch_capture_manifest_items_stay_in_the_job_folder(smlocal: Any, tmp_path: Path) -> None:
    s3 = smlocal.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="data/x.csv", Body=b"1\n")
    s3.put_object(Bucket=BUCKET, Key="data/..", Body=b"2\n")
    manifest = b'[{"prefix": "s3://capture-hostile/data/"}, "x.csv", ".."]'
    s3.put_object(Bucket=BUCKET, Key="batch/input/2026/03/01/10/m.json", Body=manifest)
    from datetime import UTC, datetime

    window = (datetime(2026, 3, 1, 10, tzinfo=UTC), datetime(2026, 3, 1, 11, tzinfo=UTC))
    dest = tmp_path / "job"
    files = download_batch_captures(s3, f"s3://{BUCKET}/batch/input", dest, window)
    assert [p.name for p in files] == ["x.csv"]
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["x.csv"]
