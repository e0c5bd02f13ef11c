"""What every typed record shares, whichever room keeps it: the stored document's type and
how an AWS output document is built from (key, value) pairs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Document = dict[str, Any]  # a document as the store keeps it (JSON)
Nested = dict[str, object]  # an AWS member the API stores and describes back unchanged


def audited(creation_time: float, last_modified_time: float) -> tuple[tuple[str, object], ...]:
    """CreationTime, CreatedBy, LastModifiedTime and LastModifiedBy, in that order, for
    `shown`: smlocal knows no user profile or domain, so both users are empty, as SageMaker
    describes a resource made by IAM credentials."""
    return (
        ("CreationTime", creation_time),
        ("CreatedBy", {}),
        ("LastModifiedTime", last_modified_time),
        ("LastModifiedBy", {}),
    )


def shown(members: Iterable[tuple[str, object]]) -> dict[str, object]:
    """An output document of (AWS key, value) pairs: the set ones, in that order."""
    return {key: value for key, value in members if value is not None}
