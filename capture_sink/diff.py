"""Compare a production variant's answers with a shadow variant's, from their capture records.

A pure core: it folds two iterables of capture records (as `reader.iter_records` yields
them) into a `DiffReport`, touching no file or network.

How records pair up: a production record and a shadow record answer the same request when
both carry the same `eventMetadata.inferenceId` (the caller's InferenceId, which SageMaker
passes to both variants); records without one pair by their request, the captured
`endpointInput` (content type and data), the n-th production record of a payload with the
n-th shadow record of the same payload, in capture order. Records without a captured input
and without an inferenceId cannot be paired and are counted as unmatched.

How answers compare: both outputs are decoded (BASE64 too) and read as numbers when they
can be (CSV or whitespace separated values, JSON numbers at any depth); two numeric answers
of the same length agree when every pair of numbers is within the tolerance, and their
difference is the largest absolute difference. Anything else agrees only when the texts are
equal once surrounding whitespace is removed; such a disagreement counts as an infinite
difference, so it ranks first among the largest.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
import math
import re
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

SHADOW_SOURCE = "ShadowExperiment"  # eventMetadata.invocationSource of a shadow's records
_SEPARATORS = re.compile(r"[,\s]+")


@dataclass(frozen=True)
class Pair:
    """One request answered by both variants."""

    key: str  # the inferenceId, or "input" when paired by payload
    event_ids: tuple[str | None, str | None]  # production's, shadow's
    request: str | None
    production: str | None
    shadow: str | None
    difference: float  # the largest gap between their numbers; inf: different values

    def describe(self) -> dict[str, Any]:
        """Its JSON form."""
        return {
            "joinedBy": self.key,
            "productionEventId": self.event_ids[0],
            "shadowEventId": self.event_ids[1],
            "request": self.request,
            "productionOutput": self.production,
            "shadowOutput": self.shadow,
            "difference": None if math.isinf(self.difference) else self.difference,
        }


@dataclass
class DiffReport:
    """Counts, the disagreement rate and the largest differences of two variants' answers."""

    tolerance: float
    production_records: int = 0
    shadow_records: int = 0
    matched: int = 0
    disagreements: int = 0
    largest: list[Pair] = field(default_factory=list)

    @property
    def unmatched_production(self) -> int:
        """Production records no shadow record answered."""
        return self.production_records - self.matched

    @property
    def unmatched_shadow(self) -> int:
        """Shadow records with no production record of the same request."""
        return self.shadow_records - self.matched

    @property
    def disagreement_rate(self) -> float | None:
        """Disagreements over matched pairs (None when nothing matched)."""
        return self.disagreements / self.matched if self.matched else None

    def describe(self) -> dict[str, Any]:
        """The report as JSON (`smlocal captures diff --json`)."""
        return {
            "productionRecords": self.production_records,
            "shadowRecords": self.shadow_records,
            "matchedPairs": self.matched,
            "unmatchedProduction": self.unmatched_production,
            "unmatchedShadow": self.unmatched_shadow,
            "disagreements": self.disagreements,
            "disagreementRate": self.disagreement_rate,
            "tolerance": self.tolerance,
            "largestDifferences": [p.describe() for p in self.largest],
        }


def _section(record: dict[str, Any], name: str) -> dict[str, Any]:
    """A record's captureData or eventMetadata; {} when it is missing or not an object (a
    hostile or damaged file must not crash the diff)."""
    value = record.get(name)
    return value if isinstance(value, dict) else {}


def is_shadow(record: dict[str, Any]) -> bool:
    """True for a shadow variant's record (SageMaker marks them with invocationSource)."""
    return _section(record, "eventMetadata").get("invocationSource") == SHADOW_SOURCE


def side_text(record: dict[str, Any], side: str) -> str | None:
    """The text of `endpointInput`/`endpointOutput`, BASE64 decoded (None when not captured;
    binary payloads stay base64)."""
    entry = _section(record, "captureData").get(side)
    if not isinstance(entry, dict) or not isinstance(entry.get("data"), str):
        return None
    data: str = entry["data"]
    if entry.get("encoding") == "BASE64":
        try:
            return base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return data
    return data


def numbers(text: str) -> list[float] | None:
    """The numbers of an answer (CSV, whitespace separated or JSON), or None if it has other
    values."""
    stripped = text.strip()
    if not stripped:
        return None
    if stripped[0] in "[{":
        try:
            return _json_numbers(json.loads(stripped))
        except (ValueError, RecursionError):  # not JSON, or nested deeper than Python goes
            return None
    try:
        return [float(token) for token in _SEPARATORS.split(stripped) if token]
    except ValueError:
        return None


def _json_numbers(value: Any) -> list[float] | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return [float(value)]
    items = value.values() if isinstance(value, dict) else value
    if not isinstance(items, Iterable) or isinstance(items, str):
        return None
    found: list[float] = []
    for item in items:
        inner = _json_numbers(item)
        if inner is None:
            return None
        found.extend(inner)
    return found


def difference(production: str | None, shadow: str | None, tolerance: float) -> float:
    """0 when the answers agree (within the tolerance), else how far apart they are."""
    if production is None or shadow is None:
        return 0.0 if production == shadow else math.inf
    left, right = numbers(production), numbers(shadow)
    if left is not None and right is not None and len(left) == len(right):
        gap = max((_gap(a, b) for a, b in zip(left, right, strict=True)), default=0.0)
        return 0.0 if gap <= tolerance else gap
    return 0.0 if production.strip() == shadow.strip() else math.inf


def _gap(a: float, b: float) -> float:
    """How far apart two numbers are; NaN or an infinity equals only itself (a NaN gap would
    agree with nothing and break the ranking, and is no JSON)."""
    if math.isfinite(a) and math.isfinite(b):
        gap = abs(a - b)
        return gap if math.isfinite(gap) else math.inf
    same = (math.isnan(a) and math.isnan(b)) or a == b
    return 0.0 if same else math.inf


def _request_key(record: dict[str, Any]) -> str | None:
    entry = _section(record, "captureData").get("endpointInput")
    if not isinstance(entry, dict) or not isinstance(entry.get("data"), str):
        return None
    return json.dumps([entry.get("observedContentType"), side_text(record, "endpointInput")])


def _inference_id(record: dict[str, Any]) -> str | None:
    value = _section(record, "eventMetadata").get("inferenceId")
    return value if isinstance(value, str) else None


def _event_id(record: dict[str, Any]) -> str | None:
    value = _section(record, "eventMetadata").get("eventId")
    return value if isinstance(value, str) else None


def diff_captures(
    production: Iterable[dict[str, Any]],
    shadow: Iterable[dict[str, Any]],
    *,
    tolerance: float = 0.0,
    top: int = 10,
) -> DiffReport:
    """Pair the shadow's records with production's and compare their answers.

    The shadow's records are held in memory (by join key) while production's stream past."""
    report = DiffReport(tolerance=tolerance)
    by_id: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
    by_input: dict[str, deque[dict[str, Any]]] = defaultdict(deque)
    for record in shadow:
        report.shadow_records += 1
        key = _inference_id(record)
        if key is not None:
            by_id[key].append(record)
        elif (request := _request_key(record)) is not None:
            by_input[request].append(record)
    heap: list[tuple[float, int, Pair]] = []
    for record in production:
        report.production_records += 1
        inference_id = _inference_id(record)
        request = _request_key(record)
        if inference_id is not None:
            queue, joined_by = by_id.get(inference_id), inference_id
        else:
            queue, joined_by = (by_input.get(request) if request else None), "input"
        if not queue:
            continue
        other = queue.popleft()
        report.matched += 1
        production_out = side_text(record, "endpointOutput")
        shadow_out = side_text(other, "endpointOutput")
        gap = difference(production_out, shadow_out, tolerance)
        if gap == 0.0:
            continue
        report.disagreements += 1
        pair = Pair(
            key=joined_by,
            event_ids=(_event_id(record), _event_id(other)),
            request=side_text(record, "endpointInput"),
            production=production_out,
            shadow=shadow_out,
            difference=gap,
        )
        entry = (gap, report.disagreements, pair)
        if len(heap) < top:
            heapq.heappush(heap, entry)
        elif top > 0 and entry[:2] > heap[0][:2]:
            heapq.heapreplace(heap, entry)
    report.largest = [p for _, _, p in sorted(heap, key=lambda e: (-e[0], e[1]))]
    return report


def render(report: DiffReport) -> str:
    """The report as text."""
    rate = report.disagreement_rate
    lines = [
        f"production records:  {report.production_records}",
        f"shadow records:      {report.shadow_records}",
        f"matched pairs:       {report.matched}",
        f"unmatched:           {report.unmatched_production} production, "
        f"{report.unmatched_shadow} shadow",
        f"disagreements:       {report.disagreements}"
        + ("" if rate is None else f" ({rate:.2%} of matched, tolerance {report.tolerance:g})"),
    ]
    if report.largest:
        lines.append("largest differences:")
        for pair in report.largest:
            gap = "different values" if math.isinf(pair.difference) else f"{pair.difference:g}"
            lines.append(
                f"  {gap}: request {_short(pair.request)} -> production "
                f"{_short(pair.production)}, shadow {_short(pair.shadow)}"
            )
    return "\n".join(lines)


def _short(text: str | None, width: int = 60) -> str:
    if text is None:
        return "(not captured)"
    flat = json.dumps(text.strip(), ensure_ascii=False)
    return flat if len(flat) <= width else flat[: width - 4] + '..."'
