"""A console route's answer, and the Content-Security-Policies pages are served with."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# a chart served as an image: its own <style> only (an <img> runs no script in any case)
CHART_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"


@dataclass(frozen=True)
class Page:
    """What a route answers: a template and its values, or a finished body."""

    template: str = ""
    values: dict[str, Any] | None = None
    status: int = 200
    body: bytes | None = None
    content_type: str = "text/html; charset=utf-8"
    location: str | None = None  # a redirect (303) after an action
    csp: str = CSP


Route = tuple[str, re.Pattern[str], Callable[..., Page]]
