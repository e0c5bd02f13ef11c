"""Every form of S3 URL SageMaker accepts for model data, mapped to s3://bucket/key in one place.

SageMaker takes `ModelDataUrl` as s3://bucket/key or as an https URL of the object, in
path style (`https://s3.{region}.amazonaws.com/{bucket}/key`, `https://s3-{region}...`,
the global `https://s3.amazonaws.com/{bucket}/key`) or virtual-host style
(`https://{bucket}.s3.{region}.amazonaws.com/key`, `{bucket}.s3-{region}...`,
`{bucket}.s3.amazonaws.com`), dualstack hosts included. AWS's Model Monitor introduction
notebook uses `https://{bucket}.s3-{region}.amazonaws.com/{prefix}/...`.

A bucket whose name holds dots is read from a virtual host as everything before the last
`.s3` label; AWS itself cannot serve such hosts over TLS (its certificate is a one-label
wildcard), so only path style is unambiguous for them.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

# {bucket.}s3[.dualstack][.region | -region].amazonaws.com[.cn], anchored at both ends
_HOST = re.compile(
    r"^(?:(?P<bucket>[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)\.)?"
    r"s3(?:\.dualstack)?(?:[.-](?P<region>[a-z]{2}(?:-[a-z]+)+-\d+|external-1))?"
    r"\.amazonaws\.com(?:\.cn)?$"
)


class S3UrlError(ValueError):
    """An https URL that does not name an object in Amazon S3."""


def to_s3_uri(text: str) -> str:
    """An https S3 URL as s3://bucket/key; any other text (s3://, a path) unchanged.

    S3UrlError for an https or http URL that is not S3's, or that carries what an object
    name cannot (a query string, a fragment, a port, user info).
    """
    if not re.match(r"^https?://", text, re.IGNORECASE):
        return text
    parts = urlsplit(text)
    host = (parts.hostname or "").lower()
    match = _HOST.match(host)
    if (
        parts.scheme.lower() != "https"
        or match is None
        or parts.query
        or parts.fragment
        or parts.port is not None
        or parts.username is not None
    ):
        raise S3UrlError(
            f"{text} is not an Amazon S3 URL (s3://BUCKET/KEY or "
            "https://BUCKET.s3.REGION.amazonaws.com/KEY)"
        )
    path = unquote(parts.path)
    bucket = match["bucket"]
    if bucket is None:  # path style: /bucket/key
        bucket, _, key = path.lstrip("/").partition("/")
    else:
        key = path.removeprefix("/")
    if not bucket:
        raise S3UrlError(f"{text} names no bucket")
    return f"s3://{bucket}/{key}"
