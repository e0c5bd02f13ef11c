"""The S3 client: boto3, pointed where AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL say.

boto3 reads those standard variables itself, so captures go to embedded moto, MinIO or AWS
without any setting of ours.
"""

from __future__ import annotations

import threading
from typing import Any

from smlocal.capture_sink.keys import S3Location

DEFAULT_REGION = "us-east-1"


def s3_client(region: str | None = None) -> Any:
    """A boto3 S3 client with short timeouts; our own spool and backoff do the retrying."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=3,
        read_timeout=30,
        retries={"mode": "standard", "max_attempts": 2},
    )
    session = boto3.session.Session()
    return session.client(
        "s3", region_name=region or session.region_name or DEFAULT_REGION, config=config
    )


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ClientError (None for any other failure).

    Errors are told apart by this code, never by `client.exceptions.<Name>`: botocore makes a
    client's exception classes on first use, without a lock, so threads sharing a client (the
    emulator's jobs starting together, its console pages) can get different classes, and the
    one raised escapes the `except` of the other.
    """
    response = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    return code if isinstance(code, str) else None


class S3Put:
    """PutObject of a whole capture file (SSE-KMS with the configured key when there is one).

    The client is made on first use, in the thread and process that uploads.
    """

    def __init__(self, region: str | None = None) -> None:
        self.region = region
        self._client: Any = None
        self._lock = threading.Lock()

    def __call__(self, location: S3Location, body: bytes, kms_key_id: str | None) -> None:
        """Store one object."""
        with self._lock:
            if self._client is None:
                self._client = s3_client(self.region)
        extra: dict[str, str] = {}
        if kms_key_id:
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}
        self._client.put_object(Bucket=location.bucket, Key=location.key, Body=body, **extra)
