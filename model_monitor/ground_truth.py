"""Ground truth, merged with the captured records of a monitoring window.

SageMaker takes labels as JSON Lines under `{ground_truth_s3_uri}/yyyy/mm/dd/hh/`, one
object a line: `{"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata":
{"eventId": "..."}, "eventVersion": "0"}`. A label belongs to the captured record whose
`inferenceId` (or, when the request gave none, `eventId`) equals its `eventId`.

The merge reads every label file under the ground-truth folder in path order (hour folders,
then file names, as uploaded), so when one id has several labels the last uploaded wins; it
counts what it merged, the captured records without a label, the labels without a captured
record and the labels replaced by a later one.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from smlocal.model_monitor.errors import AnalysisError


@dataclass(slots=True)
class Payload:
    """One side's data as captured or labelled: the text and its encoding."""

    data: str
    encoding: str  # CSV, JSON or BASE64

    @classmethod
    def of(cls, side: Any, where: str) -> Payload:
        """The payload of a `{"data", "encoding"}` object."""
        if not isinstance(side, dict) or not isinstance(side.get("data"), str):
            raise AnalysisError(f"{where}: has no data string")
        return cls(side["data"], str(side.get("encoding") or "CSV").upper())

    def text(self) -> str:
        """The data, BASE64 decoded."""
        if self.encoding == "BASE64":
            return base64.b64decode(self.data).decode("utf-8")
        return self.data


@dataclass
class Merged:
    """The merged records and the merge's counts."""

    outputs: list[Payload] = field(default_factory=list)  # the captured endpointOutput
    labels: list[Payload] = field(default_factory=list)  # its ground truth, same order
    captured: int = 0
    without_label: int = 0
    unused_labels: int = 0
    replaced_labels: int = 0

    def report(self) -> str:
        """The merge's one-line account, for the job's log."""
        return (
            f"Merged {len(self.labels)} of {self.captured} captured records with ground truth: "
            f"{self.without_label} captured records have no ground truth, "
            f"{self.unused_labels} ground truth records match no captured record, "
            f"{self.replaced_labels} ground truth records were replaced by a later one "
            "with the same eventId"
        )


def label_files(folder: Path) -> list[Path]:
    """Every label file under the folder, in upload (path) order."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))


def _label_lines(path: Path) -> Iterator[tuple[str, Payload]]:
    try:
        yield from _labels_of(path)
    except UnicodeDecodeError as exc:
        raise AnalysisError(f"Ground truth file {path.name} is not UTF-8 text: {exc}") from None


def _labels_of(path: Path) -> Iterator[tuple[str, Payload]]:
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            where = f"Ground truth record ({path.name}:{number})"
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise AnalysisError(f"{where} is not JSON: {exc}") from None
            metadata = record.get("eventMetadata") if isinstance(record, dict) else None
            event = metadata.get("eventId") if isinstance(metadata, dict) else None
            if not isinstance(event, str):
                raise AnalysisError(f"{where} has no eventMetadata.eventId")
            yield event, Payload.of(record.get("groundTruthData"), f"{where} groundTruthData")


def read_labels(folder: Path) -> tuple[dict[str, Payload], int]:
    """eventId -> its last label, and how many labels a later one replaced."""
    labels: dict[str, Payload] = {}
    replaced = 0
    for path in label_files(folder):
        for event, payload in _label_lines(path):
            replaced += event in labels
            labels[event] = payload
    return labels, replaced


def capture_key(record: dict[str, Any]) -> str | None:
    """The id a label names a captured record by: its inferenceId, else its eventId."""
    metadata = record.get("eventMetadata")
    if not isinstance(metadata, dict):
        return None
    key = metadata.get("inferenceId") or metadata.get("eventId")
    return str(key) if key is not None else None


def merge(captures: Iterator[tuple[dict[str, Any], str]], ground_truth: Path) -> Merged:
    """Pair each captured record (with where it was read) with its label."""
    keyed = (
        (capture_key(record), partial(_endpoint_output, record, where))
        for record, where in captures
    )
    return merge_outputs(keyed, ground_truth)


def _endpoint_output(record: dict[str, Any], where: str) -> Payload:
    capture = record.get("captureData")
    output = capture.get("endpointOutput") if isinstance(capture, dict) else None
    return Payload.of(output, f"Capture record {where} endpointOutput")


def merge_outputs(
    outputs: Iterator[tuple[str | None, Callable[[], Payload]]], ground_truth: Path
) -> Merged:
    """Pair each monitored output (its id, and how to read it: only a matched one is read)
    with its label."""
    labels, replaced = read_labels(ground_truth)
    merged = Merged(replaced_labels=replaced)
    used: set[str] = set()
    for key, output in outputs:
        merged.captured += 1
        label = labels.get(key) if key is not None else None
        if label is None:
            merged.without_label += 1
            continue
        used.add(str(key))
        merged.outputs.append(output())
        merged.labels.append(label)
    merged.unused_labels = len(labels.keys() - used)
    return merged
