"""The analyzer's model-quality analysis (`analysis_type` MODEL_QUALITY).

A baseline job reads a CSV (or JSON Lines) dataset holding, per record, the prediction
(`inference_attribute`), the probability (`probability_attribute`) and the label
(`ground_truth_attribute`): column names with a header, else column indexes. A monitoring
execution reads the window's captured records (or, with a csv/json `dataset_format`, a batch
transform's output records: see `transform_outputs`) and the ground truth
(`ground_truth_source`), merges them (see `ground_truth`) and reads the prediction and
probability from each `endpointOutput` (or output record): a column index for CSV output, a
JSONPath (`$.score`, `predictions[0]`) for JSON. Without an `inference_attribute`, the
predicted label of a binary problem is whether the probability reaches
`probability_threshold_attribute` (0.5 by default).
"""

from __future__ import annotations

import csv
import io
import json
import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from smlocal.model_monitor import ground_truth, quality_constraints, transform_outputs
from smlocal.model_monitor.contract import CONSTRAINTS, STATISTICS, VIOLATIONS
from smlocal.model_monitor.environment import CAPTURE, CSV, AnalyzerInput
from smlocal.model_monitor.errors import NO_DATA, AnalysisError
from smlocal.model_monitor.metrics import MetricRecord
from smlocal.model_monitor.quality_metrics import (
    BINARY,
    COMPUTE,
    MULTICLASS,
    SECTIONS,
    Labelled,
    label_text,
)

Log = Callable[[str], None]


@dataclass(frozen=True)
class Attributes:
    """Where the prediction, the probability and the label are, and the threshold."""

    problem_type: str
    inference: str | None
    probability: str | None
    label: str | None
    threshold: float

    @classmethod
    def of(cls, env: dict[str, str]) -> Attributes:
        """From the analyzer's environment, as the SDK sets it."""
        problem = env.get("problem_type", "")
        if problem not in COMPUTE:
            raise AnalysisError(
                f"problem_type={problem!r}: a model quality job needs problem_type "
                f"{', '.join(COMPUTE)}"
            )
        raw = env.get("probability_threshold_attribute") or "0.5"
        try:
            threshold = float(raw)
        except ValueError:
            raise AnalysisError(
                f"probability_threshold_attribute={raw!r} is not a number"
            ) from None
        return cls(
            problem,
            env.get("inference_attribute") or None,
            env.get("probability_attribute") or None,
            env.get("ground_truth_attribute") or None,
            threshold,
        )


@dataclass
class Outcome:
    """What the analysis produced: the documents to write, the violations, the metrics."""

    documents: dict[str, Any]
    violations: int = 0
    metrics: tuple[MetricRecord, ...] = field(default_factory=tuple)


def pick(value: Any, path: str, where: str) -> Any:
    """The value at a JSONPath (`$.a.b[0]`, `a.b`, `0`) of a parsed JSON value."""
    steps = path.strip().removeprefix("$").replace("[", ".").replace("]", "").split(".")
    for step in (s.strip("'\"") for s in steps if s):
        if isinstance(value, list) and step.lstrip("-").isdigit():
            index = int(step)
            if not -len(value) <= index < len(value):
                raise AnalysisError(f"{where}: no element {path} in {json.dumps(value)[:80]}")
            value = value[index]
        elif isinstance(value, dict) and step in value:
            value = value[step]
        else:
            raise AnalysisError(f"{where}: no field {path} in {json.dumps(value)[:80]}")
    return value


def _column(fields: list[str], attribute: str | None, where: str) -> str:
    index = int(attribute) if attribute and attribute.isdigit() else 0
    if attribute and not attribute.isdigit():
        raise AnalysisError(f"{where}: {attribute!r} is not a column index of CSV data")
    if index >= len(fields):
        raise AnalysisError(f"{where}: has {len(fields)} columns, no column {index}")
    return fields[index].strip()


def payload_value(payload: ground_truth.Payload, attribute: str | None, where: str) -> Any:
    """A value of a captured output or a label: a CSV column, or a JSONPath of JSON data."""
    try:
        text = payload.text()
    except ValueError as exc:  # bad base64, or bytes that are not UTF-8
        raise AnalysisError(f"{where}: data is not {payload.encoding} text: {exc}") from None
    if payload.encoding == "JSON" or (payload.encoding == "BASE64" and text.lstrip()[:1] in "{["):
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise AnalysisError(f"{where}: data is not JSON: {exc}") from None
        return pick(value, attribute, where) if attribute else value
    line = text.strip().split("\n", 1)[0]
    fields = line.split(",") if '"' not in line else next(csv.reader([line]), [])
    return _column(fields, attribute, where)


def _float(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise AnalysisError(f"{what} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise AnalysisError(f"{what} {value!r} is not a finite number")
    return number


def labelled(
    attributes: Attributes, labels: list[Any], predictions: list[Any], probabilities: list[Any]
) -> Labelled:
    """The arrays the metrics take, typed for the problem."""
    problem = attributes.problem_type
    if problem == MULTICLASS:
        if not predictions:
            raise AnalysisError("A MulticlassClassification job needs inference_attribute")
        texts = [label_text(_maybe_number(v)) for v in predictions]
        truth = [label_text(_maybe_number(v)) for v in labels]
        return Labelled(np.array(truth, dtype=object), np.array(texts, dtype=object))
    truth_values = np.array([_float(v, "Ground truth label") for v in labels])
    scores = np.array([_float(p, "Probability") for p in probabilities]) if probabilities else None
    if predictions:
        predicted = np.array([_float(v, "Prediction") for v in predictions])
    elif scores is not None and problem == BINARY:
        predicted = (scores >= attributes.threshold).astype(np.float64)
    else:
        raise AnalysisError(f"A {problem} job needs inference_attribute")
    return Labelled(truth_values, predicted, scores if problem == BINARY else None)


def _maybe_number(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _dataset_rows(source: Path, header: bool, is_csv: bool) -> Iterator[dict[str, Any] | list[str]]:
    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    for path in files:
        text = path.read_text(encoding="utf-8")
        if not is_csv:
            yield from (json.loads(line) for line in text.splitlines() if line.strip())
            continue
        rows = [row for row in csv.reader(io.StringIO(text)) if row]
        names = [n.strip() for n in rows[0]] if header and rows else None
        for row in rows[1:] if names else rows:
            yield dict(zip(names, row, strict=False)) if names else row


def baseline_values(job: AnalyzerInput, attributes: Attributes) -> tuple[list[Any], ...]:
    """(labels, predictions, probabilities) of a baseline dataset."""
    if attributes.label is None:
        raise AnalysisError("A model quality baseline needs ground_truth_attribute")
    source = Path(str(job.dataset_source))
    is_csv = job.dataset_format.kind == CSV
    columns: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
    wanted = (attributes.label, attributes.inference, attributes.probability)
    for number, row in enumerate(_dataset_rows(source, job.dataset_format.header, is_csv), 1):
        for values, attribute in zip(columns, wanted, strict=True):
            if attribute is not None:
                values.append(_row_value(row, attribute, f"Dataset row {number}"))
    return columns


def _row_value(row: dict[str, Any] | list[str], attribute: str, where: str) -> Any:
    if isinstance(row, list):
        return _column(row, attribute, where)
    if attribute in row:
        return row[attribute]
    return pick(row, attribute, where)


def capture_values(
    job: AnalyzerInput, attributes: Attributes, source: Path, log: Log
) -> tuple[list[Any], ...]:
    """(labels, predictions, probabilities) of the window's monitored outputs merged with
    labels: an endpoint's captured records, or a batch transform's output records."""
    merged, hint = _merged(job, source)
    side = "endpointOutput" if job.dataset_format.kind == CAPTURE else "(transform output record)"
    log(merged.report())
    if not merged.labels:
        raise AnalysisError(f"{NO_DATA}: none of the {merged.captured} {hint}")
    labels = [
        ground_truth_value(label, attributes.label, n) for n, label in enumerate(merged.labels, 1)
    ]
    predictions, probabilities = [], []
    for number, output in enumerate(merged.outputs, 1):
        where = f"Merged record {number} {side}"
        if attributes.inference or not attributes.probability:
            predictions.append(payload_value(output, attributes.inference, where))
        if attributes.probability:
            probabilities.append(payload_value(output, attributes.probability, where))
    return labels, predictions, probabilities


def _merged(job: AnalyzerInput, source: Path) -> tuple[ground_truth.Merged, str]:
    """The merge, and what to say when nothing merged."""
    kind = job.dataset_format.kind
    if kind != CAPTURE:  # a batch transform's output records (csv or json lines)
        records = transform_outputs.output_records(
            Path(str(job.dataset_source)), kind == CSV, job.dataset_format.header
        )
        return ground_truth.merge_outputs(records, source), (
            "transform output records of the window has ground truth (a ground truth "
            "record's eventMetadata.eventId is the inference id a transform job appends to "
            "each output record with DataCaptureConfig GenerateInferenceId)"
        )
    from smlocal.capture_sink.reader import iter_located

    located = iter_located(job.dataset_source, job.start_time, job.end_time)
    try:  # only the ids and endpointOutput are read: those are checked as they are read
        merged = ground_truth.merge(((f.record, str(f)) for f in located), source)
    except ValueError as exc:  # a broken capture line
        raise AnalysisError(str(exc)) from None
    return merged, (
        "captured records of the window has ground truth (a ground truth record's "
        "eventMetadata.eventId is the captured record's inferenceId, or its eventId)"
    )


def ground_truth_value(label: ground_truth.Payload, attribute: str | None, number: int) -> Any:
    """A label's value: its first CSV column, or its JSON (at the attribute's path)."""
    return payload_value(label, attribute, f"Merged record {number} groundTruthData")


def analyse(job: AnalyzerInput, log: Log) -> Outcome:
    """Compute the statistics (and, for an execution, the violations) of a job."""
    env = dict(job.raw)
    attributes = Attributes.of(env)
    source = env.get("ground_truth_source")
    if source:
        columns = capture_values(job, attributes, Path(source), log)
    else:
        columns = baseline_values(job, attributes)
    data = labelled(attributes, *columns)
    if not len(data):
        raise AnalysisError(NO_DATA)
    problem = attributes.problem_type
    with warnings.catch_warnings():  # scikit-learn's notes (one label seen, ...) are no news
        warnings.simplefilter("ignore")
        metrics = COMPUTE[problem](data)
    log(f"Computed {SECTIONS[problem]} of {len(data)} records")
    evaluated = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    documents: dict[str, Any] = {
        CONSTRAINTS: quality_constraints.suggest(problem, metrics),
        STATISTICS: {
            "version": 0.0,
            "dataset": {"item_count": len(data), "evaluation_time": evaluated},
            SECTIONS[problem]: metrics,
        },
    }
    if not source and not job.baseline_constraints:  # a baseline, checked against none
        return Outcome(documents)
    # an execution, or a pipeline's QualityCheck of a dataset against a baseline
    return _execution(job, problem, metrics, documents)


def _execution(
    job: AnalyzerInput, problem: str, metrics: dict[str, Any], documents: dict[str, Any]
) -> Outcome:
    violations: list[dict[str, str]] = []
    if job.baseline_constraints:
        from smlocal.model_monitor.report import read_text

        try:
            constraints = json.loads(read_text(str(job.baseline_constraints)))
        except (OSError, ValueError) as exc:
            raise AnalysisError(
                f"Baseline constraints file {job.baseline_constraints} cannot be read: {exc}"
            ) from None
        violations = quality_constraints.check(problem, metrics, constraints)
    documents[VIOLATIONS] = {"violations": violations}
    records: tuple[MetricRecord, ...] = ()
    if job.publish_cloudwatch_metrics:
        records = quality_constraints.cloudwatch_metrics(
            metrics,
            timestamp=job.metric_time or job.end_time or datetime.now(UTC),
            endpoint=job.endpoint_name,
            schedule=job.schedule_name,
        )
    return Outcome(documents, len(violations), records)
