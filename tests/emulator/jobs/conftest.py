"""Fixtures of the pipeline tests (`pipelines_session` is in tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.pipeline_sdk import BUCKET, upload_iris


@pytest.fixture(scope="module")
def pipelines_iris(smlocal, tmp_path_factory) -> dict[str, str]:
    """The iris CSVs in the SDK's default bucket; their prefixes by channel."""
    s3 = smlocal.client("s3")
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=BUCKET)
    return upload_iris(s3, tmp_path_factory.mktemp("iris"), "pipeline-tests")
