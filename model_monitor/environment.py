"""The analyzer's job configuration, read from its environment with the container's own keys.

The real container takes these from the processing job's `Environment`; the paths are local
here (the emulator stages S3 inputs and uploads outputs around the job). `dataset_source`,
`output_path` and `dataset_format` are required (a missing one fails the job with the
`KeyError` text the container writes, e.g. `'output_path'`); every other key is optional.
Entries that are not analyzer keys are exported to the user's scripts, as the container does.
`smlocal_max_columns` is smlocal's own key: the most columns a record may have (see `errors`);
so are `smlocal_engine` (`single`, the default, or `spark`: see `spark_engine`) and
`smlocal_spark_master` (the Spark master URL, default `local[*]`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from smlocal.model_monitor.constraints import categorical_drift_method
from smlocal.model_monitor.errors import (
    DATASET_FORMAT_MISSING,
    INVALID_OUTPUT_COLUMNS_POSITION,
    MAX_COLUMNS,
    MAX_COLUMNS_KEY,
    AnalysisError,
)
from smlocal.model_monitor.readers import DEFAULT_INDEX_NAMES, parse_time

CSV, JSON, CAPTURE = "csv", "json", "sagemakerCaptureJson"
SINGLE, SPARK = "single", "spark"  # the engines
ENGINE_KEY, SPARK_MASTER_KEY = "smlocal_engine", "smlocal_spark_master"
DEFAULT_SPARK_MASTER = "local[*]"
DATA_QUALITY, MODEL_QUALITY = "DATA_QUALITY", "MODEL_QUALITY"
ANALYZER_KEYS = frozenset(
    {
        "dataset_source", "output_path", "dataset_format", "start_time", "end_time",
        "metric_time", "analysis_type", "problem_type", "automl_problem_name",
        "inference_attribute", "probability_attribute", "ground_truth_attribute",
        "probability_threshold_attribute", "positive_label", "exclude_features_attribute",
        "baseline_constraints", "baseline_statistics", "publish_cloudwatch_metrics",
        "record_preprocessor_script", "post_analytics_processor_script",
        "sagemaker_endpoint_name", "sagemaker_monitoring_schedule_name",
        "categorical_drift_method", "detect_outliers", "detect_drift", "image_data",
        "monitoring_input_type", "report_enabled", "CLOUDWATCH_METRICS_DIRECTORY",
        "ground_truth_source",
        MAX_COLUMNS_KEY, ENGINE_KEY, SPARK_MASTER_KEY,
    }
)  # fmt: skip


@dataclass(frozen=True)
class DatasetFormat:
    """`dataset_format`: which reader, and its options (container defaults)."""

    kind: str
    header: bool = False  # the container's default; the SDK sends header=true explicitly
    output_columns_position: str = "START"
    json_lines: bool = True
    index_names: tuple[str, ...] = DEFAULT_INDEX_NAMES

    @classmethod
    def parse(cls, raw: str) -> tuple[DatasetFormat, Any]:
        """The format and the parsed JSON (for the log line)."""
        document = json.loads(raw)
        if not isinstance(document, Mapping):
            raise ValueError(DATASET_FORMAT_MISSING)
        present = [k for k, v in document.items() if k != "compression" and v is not None]
        if not present:
            raise ValueError(DATASET_FORMAT_MISSING)
        if len(present) > 1:
            raise ValueError(f"Only one dataset format may be given, got {', '.join(present)}")
        kind, options = present[0], document[present[0]] or {}
        if kind == CSV:
            position = str(options.get("output_columns_position", "START")).upper()
            if position not in ("START", "END"):
                raise ValueError(INVALID_OUTPUT_COLUMNS_POSITION)
            return cls(
                CSV, header=bool(options.get("header", False)), output_columns_position=position
            ), document
        if kind == JSON:
            return cls(JSON, json_lines=bool(options.get("lines", True))), document
        if kind == CAPTURE:
            names = options.get("captureIndexNames") or list(DEFAULT_INDEX_NAMES)
            return cls(CAPTURE, index_names=tuple(str(n) for n in names)), document
        raise AnalysisError(f"Dataset format {kind} is not supported by smlocal's analyzer")


def _known_analysis(env: Mapping[str, str]) -> None:
    """Refuse the analyses this analyzer does not do (model bias and explainability run in
    Clarify's image): failing is better than data-quality files under another job's name."""
    analysis = env.get("analysis_type")
    if analysis and analysis.strip().upper() not in (DATA_QUALITY, MODEL_QUALITY):
        raise AnalysisError(
            f"analysis_type={analysis!r}: smlocal's analyzer computes data quality (no "
            f"analysis_type, or {DATA_QUALITY}) and {MODEL_QUALITY}; {analysis} is not emulated."
        )


# A local path, or an s3:// URI kept as written (Path would turn s3://b/k into s3:/b/k):
# `smlocal monitor run` reads captures and baseline files from S3 where they are.
Location = Path | str


def location(value: str) -> Location:
    """A local path, or the s3:// URI itself."""
    return value if value.startswith("s3://") else Path(value)


def _path(env: Mapping[str, str], key: str) -> Path | None:
    value = env.get(key)
    return Path(value) if value else None


def _location(env: Mapping[str, str], key: str) -> Location | None:
    value = env.get(key)
    return location(value) if value else None


def _time(env: Mapping[str, str], key: str) -> datetime | None:
    value = env.get(key)
    if not value:
        return None
    try:
        return parse_time(value)
    except ValueError:
        raise AnalysisError(f"{key}={value!r} is not an ISO-8601 time") from None


def _positive(env: Mapping[str, str], key: str, default: int) -> int:
    value = env.get(key)
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise AnalysisError(f"{key}={value!r} is not a positive whole number")
    return number


def _engine(env: Mapping[str, str]) -> str:
    value = env.get(ENGINE_KEY, "").strip().lower() or SINGLE
    if value not in (SINGLE, SPARK):
        raise AnalysisError(
            f"{ENGINE_KEY}={env[ENGINE_KEY]!r} is not an engine: give {SINGLE} or {SPARK}"
        )
    return value


@dataclass(frozen=True)
class AnalyzerInput:
    """Everything a job needs, parsed."""

    dataset_source: Location
    output_path: Path
    dataset_format: DatasetFormat
    format_document: Any
    baseline_statistics: Location | None = None
    baseline_constraints: Location | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    metric_time: datetime | None = None
    record_preprocessor_script: Path | None = None
    post_analytics_processor_script: Path | None = None
    publish_cloudwatch_metrics: bool = False
    endpoint_name: str | None = None
    schedule_name: str | None = None
    categorical_drift_method: str | None = None
    max_columns: int = MAX_COLUMNS
    engine: str = SINGLE
    spark_master: str = DEFAULT_SPARK_MASTER
    raw: Mapping[str, str] = field(default_factory=dict)

    @property
    def monitoring(self) -> bool:
        """A monitoring execution (compares with a baseline) rather than a baseline job."""
        return bool(self.baseline_statistics or self.baseline_constraints)

    @property
    def model_quality(self) -> bool:
        """A model-quality job (`analysis_type` MODEL_QUALITY, as ModelQualityMonitor sends)."""
        return self.raw.get("analysis_type", "").strip().upper() == MODEL_QUALITY

    @property
    def user_environment(self) -> dict[str, str]:
        """Entries that are not analyzer keys, for the user's scripts."""
        return {k: v for k, v in self.raw.items() if k not in ANALYZER_KEYS}

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> AnalyzerInput:
        """Parse the environment (KeyError for a missing required key, as the container)."""
        _known_analysis(env)
        source, output, raw_format = (
            env["dataset_source"],
            env["output_path"],
            env["dataset_format"],
        )
        dataset_format, document = DatasetFormat.parse(raw_format)
        drift = env.get("categorical_drift_method")
        return cls(
            dataset_source=location(source),
            output_path=Path(output),
            dataset_format=dataset_format,
            format_document=document,
            baseline_statistics=_location(env, "baseline_statistics"),
            baseline_constraints=_location(env, "baseline_constraints"),
            start_time=_time(env, "start_time"),
            end_time=_time(env, "end_time"),
            metric_time=_time(env, "metric_time"),
            record_preprocessor_script=_path(env, "record_preprocessor_script"),
            post_analytics_processor_script=_path(env, "post_analytics_processor_script"),
            publish_cloudwatch_metrics=env.get("publish_cloudwatch_metrics", "") == "Enabled",
            endpoint_name=env.get("sagemaker_endpoint_name") or None,
            schedule_name=env.get("sagemaker_monitoring_schedule_name") or None,
            categorical_drift_method=categorical_drift_method(drift) if drift else None,
            max_columns=_positive(env, MAX_COLUMNS_KEY, MAX_COLUMNS),
            engine=_engine(env),
            spark_master=env.get(SPARK_MASTER_KEY, "").strip() or DEFAULT_SPARK_MASTER,
            raw=dict(env),
        )

    def log_document(self) -> dict[str, Any]:
        """The object of the `Performing analysis with input:` log line."""
        env = self.raw
        keys = (
            "record_preprocessor_script", "post_analytics_processor_script",
            "baseline_constraints", "baseline_statistics", "start_time", "end_time",
            "metric_time", "publish_cloudwatch_metrics", "sagemaker_endpoint_name",
            "sagemaker_monitoring_schedule_name", "categorical_drift_method",
        )  # fmt: skip
        return {
            "dataset_source": str(self.dataset_source),
            "dataset_format": self.format_document,
            "output_path": str(self.output_path),
            **{key: env.get(key) for key in keys},
        }
