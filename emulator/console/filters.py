"""Jinja filters: times, durations and numbers as the console shows them."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any


def when(value: Any) -> str:
    """An API time (epoch seconds or datetime) as `YYYY-MM-DD HH:MM:SS UTC`."""
    if value is None or value == "":
        return "—"
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value, UTC)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value)


def number(value: Any, digits: int = 3) -> str:
    """A number rounded for reading ('—' for none)."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return (
            f"{value:.{digits}g}"
            if abs(value) < 1e-3 or abs(value) >= 1e6
            else f"{value:,.{digits}f}".rstrip("0").rstrip(".")
        )
    return f"{value:,}" if isinstance(value, int) else str(value)


def pretty(value: Any) -> str:
    """A JSON document, indented."""
    return json.dumps(value, indent=2, sort_keys=True, default=str)


def status_class(status: Any) -> str:
    """The CSS class of a status word: good, bad, busy or plain."""
    text = str(status or "")
    if text in ("InService", "Completed", "Approved", "Scheduled"):
        return "good"
    if text.startswith(("Failed", "CompletedWithViolations", "Rejected", "Stopped")):
        return "bad"
    if text.endswith("ing") or text in ("Pending", "InProgress", "PendingManualApproval"):
        return "busy"
    return "plain"


FILTERS: dict[str, Callable[..., str]] = {
    "when": when,
    "number": number,
    "pretty": pretty,
    "status_class": status_class,
}
