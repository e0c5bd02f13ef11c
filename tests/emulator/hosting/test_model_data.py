"""Model data fetched by the emulator: failures name the user's URI, and the size cap holds."""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

import pytest

from smlocal.emulator.hosting.model_data import embedded_object, fetch
from smlocal.emulator.settings import DEFAULT_ACCOUNT, EmulatorSettings
from smlocal.model_server.errors import ArtifactError
from tests.support import deploy, unique

MiB = 1024 * 1024


def zeros_tar(path: Path, size: int) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("xgboost-model")
        info.size = size
        tar.addfile(info, io.BytesIO(bytes(size)))
    return path


def test_a_failure_reason_names_the_s3_uri_not_a_temp_file(smlocal) -> None:
    s3, sm = smlocal.client("s3"), smlocal.client("sagemaker")
    bucket = unique("artifacts")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="broken/model.tar.gz", Body=b"not a tar archive at all")
    uri = f"s3://{bucket}/broken/model.tar.gz"
    described = deploy(sm, unique("broken"), [{"name": "AllTraffic", "model_data": uri}])
    assert described["EndpointStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith(
        "Failed to download model data for production variant AllTraffic: "
        f"cannot read {uri} as a tar archive: "
    ), reason
    assert re.search(r"tmp\w{6,}", reason) is None, reason


def test_the_emulator_reads_its_cap_from_the_environment() -> None:
    assert EmulatorSettings.from_env({}).max_model_bytes == 10 * 1024**3
    settings = EmulatorSettings.from_env({"SMLOCAL_MAX_MODEL_BYTES": "1048576"})
    assert settings.max_model_bytes == MiB
    with pytest.raises(ValueError, match=r"^SMLOCAL_MAX_MODEL_BYTES='lots' is not an integer$"):
        EmulatorSettings.from_env({"SMLOCAL_MAX_MODEL_BYTES": "lots"})


def test_fetch_applies_the_cap_and_names_the_path_given(tmp_path: Path) -> None:
    archive = zeros_tar(tmp_path / "model.tar.gz", 5 * MiB)
    settings = EmulatorSettings(data_dir=tmp_path, max_model_bytes=MiB)
    dest = tmp_path / "scratch" / "model"
    with pytest.raises(ArtifactError) as caught:
        fetch(settings, f"file://{archive}", dest)
    assert str(caught.value).startswith(
        f"refusing to extract {archive}: it unpacks to at least 5.0 MiB (5242880 bytes), more "
        "than the limit of 1.0 MiB (1048576 bytes)"
    )
    assert not dest.exists()


def test_fetch_from_the_embedded_s3_applies_the_cap_and_names_the_uri(tmp_path: Path) -> None:
    import boto3
    from moto import mock_aws

    body = zeros_tar(tmp_path / "model.tar.gz", 5 * MiB).read_bytes()
    settings = EmulatorSettings(data_dir=tmp_path, max_model_bytes=MiB)
    dest = tmp_path / "scratch" / "model"
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bombs")
        s3.put_object(Bucket="bombs", Key="big/model.tar.gz", Body=body)
        with pytest.raises(ArtifactError) as caught:
            fetch(settings, "s3://bombs/big/model.tar.gz", dest)
    assert str(caught.value).startswith(
        "refusing to extract s3://bombs/big/model.tar.gz: it unpacks to at least 5.0 MiB"
    )
    assert not dest.exists()


def test_the_key_is_read_as_written_a_leading_slash_included() -> None:
    """s3://b//m.tar.gz names the object "/m.tar.gz" (S3 and SageMaker's S3Uri pattern)."""
    import boto3
    from moto import mock_aws

    account = DEFAULT_ACCOUNT
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="lead")
        s3.put_object(Bucket="lead", Key="/m.tar.gz", Body=b"with the slash")
        s3.put_object(Bucket="lead", Key="m.tar.gz", Body=b"without")
        assert embedded_object(account, "s3://lead//m.tar.gz") == b"with the slash"
        assert embedded_object(account, "s3://lead/m.tar.gz") == b"without"
        with pytest.raises(
            ArtifactError, match=r"^'s3:///m.tar.gz' is not an s3://bucket/key URI$"
        ):
            embedded_object(account, "s3:///m.tar.gz")
