"""The List* operations' shared filters, sorting and NextToken pagination."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from smlocal.emulator.errors import ValidationException

Document = dict[str, Any]


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


def filtered(
    items: Sequence[Document],
    params: dict[str, Any],
    name_key: str,
    time_key: str = "CreationTime",
    equals: Mapping[str, str] | None = None,
) -> list[Document]:
    """Apply NameContains, CreationTimeBefore/After and LastModifiedTime*, and `equals`.

    `equals` maps each exact-match parameter of the operation (StatusEquals, EndpointName,
    ...) to the document key it compares with.
    """
    out = list(items)
    for param, key in (equals or {}).items():
        if param in params:
            out = [d for d in out if d.get(key) == params[param]]
    if "NameContains" in params:
        needle = params["NameContains"].lower()
        out = [d for d in out if needle in d[name_key].lower()]
    for param, key, after in (
        ("CreationTimeAfter", time_key, True),
        ("CreationTimeBefore", time_key, False),
        ("LastModifiedTimeAfter", "LastModifiedTime", True),
        ("LastModifiedTimeBefore", "LastModifiedTime", False),
    ):
        if param in params:
            bound = _epoch(params[param])
            out = [d for d in out if key in d and (d[key] > bound if after else d[key] < bound)]
    return out


def sort(
    items: list[Document],
    params: dict[str, Any],
    keys: dict[str, str],
    default_by: str = "CreationTime",
    default_order: str = "Descending",
) -> list[Document]:
    """Sort by the SortBy value (mapped to a document key) and SortOrder."""
    key = keys.get(params.get("SortBy", default_by), keys[default_by])
    descending = params.get("SortOrder", default_order) == "Descending"
    return sorted(items, key=_sort_key(key), reverse=descending)


def _sort_key(key: str) -> Callable[[Document], Any]:
    def value(doc: Document) -> Any:
        found = doc.get(key)
        return (found is None, found.lower() if isinstance(found, str) else found)

    return value


def page(
    items: list[Document], params: dict[str, Any], default_max: int = 10
) -> tuple[list[Document], str | None]:
    """One page of items and the NextToken of the next one (None at the end)."""
    start = 0
    if params.get("NextToken"):
        try:
            start = int(json.loads(base64.urlsafe_b64decode(params["NextToken"]))["offset"])
        except (ValueError, KeyError, TypeError):
            raise ValidationException("Invalid pagination token.") from None
    size = int(params.get("MaxResults") or default_max)
    chunk = items[start : start + size]
    more = start + size < len(items)
    token = base64.urlsafe_b64encode(json.dumps({"offset": start + size}).encode()).decode()
    return chunk, token if more else None
