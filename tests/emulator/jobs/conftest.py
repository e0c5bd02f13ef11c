"""Fixtures of the pipeline tests."""

from __future__ import annotations

import time
import types

import botocore.waiter
import pytest

from tests.pipeline_sdk import BUCKET, pipeline_session, upload_iris


@pytest.fixture
def pipelines_session(smlocal_sagemaker_session, monkeypatch):
    """A PipelineSession; `execution.wait()` polls every 0.2 s instead of 30 s (tests only)."""
    quick = types.SimpleNamespace(sleep=lambda seconds: time.sleep(min(seconds, 0.2)))
    monkeypatch.setattr(botocore.waiter, "time", quick)
    return pipeline_session(smlocal_sagemaker_session)


@pytest.fixture(scope="module")
def pipelines_iris(smlocal, tmp_path_factory) -> dict[str, str]:
    """The iris CSVs in the SDK's default bucket; their prefixes by channel."""
    s3 = smlocal.client("s3")
    if BUCKET not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=BUCKET)
    return upload_iris(s3, tmp_path_factory.mktemp("iris"), "pipeline-tests")
