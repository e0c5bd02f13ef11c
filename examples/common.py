"""What every example needs: a SageMaker session whose default bucket exists."""

from __future__ import annotations

import boto3
import sagemaker

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"  # any role ARN; SageMaker needs one


def ensure_bucket(session: sagemaker.Session, bucket: str) -> None:
    """Create the bucket unless it is there."""
    s3 = session.boto_session.client("s3")
    if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=bucket)


def session_with_bucket(bucket: str) -> sagemaker.Session:
    """A session on the environment's endpoint (AWS_ENDPOINT_URL) with `bucket` as default."""
    session = sagemaker.Session(boto3.Session(), default_bucket=bucket)
    ensure_bucket(session, bucket)
    return session
