"""Monitoring executions: when a schedule fires, a processing job analyses the captures.

A schedule's job definition (named, or inline in the schedule) becomes a `MonitoringSpec`;
each execution is a processing job of the analyzer image whose inputs are the endpoint's
captures for the window, the baseline files and the scripts, and whose output goes to
`{output}/{endpoint}/{schedule}/yyyy/mm/dd/hh/` of the scheduled hour, as SageMaker does.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from smlocal.capture_sink.keys import capture_prefix
from smlocal.emulator.control import processing_jobs
from smlocal.emulator.control.context import Context
from smlocal.emulator.control.job_definitions import DEFINITIONS, DataQualityJobDefinition
from smlocal.emulator.control.kinds import Kind
from smlocal.emulator.control.model_quality_definitions import MODEL_QUALITY_DEFINITIONS
from smlocal.emulator.errors import ValidationException
from smlocal.emulator.hosting.endpoint_records import stored
from smlocal.emulator.jobs.processing import BATCH_CAPTURE_INPUT
from smlocal.emulator.jobs.processing_records import CaptureWindow, ProcessingJob
from smlocal.emulator.jobs.schedule_records import (
    EXECUTION,
    AppSpecification,
    BaselineConfig,
    MonitoringExecution,
    MonitoringInput,
    MonitoringJobDefinition,
    MonitoringSchedule,
    MonitoringScheduleConfig,
    OutputConfig,
    StoppingCondition,
    find_schedule,
    save_schedule,
)
from smlocal.emulator.jobs.scheduler import is_now
from smlocal.emulator.statuses.monitoring import MONITORING_EXECUTION
from smlocal.emulator.support.records import Nested
from smlocal.model_monitor.contract import dataset_format, status_of

_DURATION = re.compile(r"^([+-])?P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
# (input name, container folder, analyzer environment key) of the files an execution reads
FILE_INPUTS = (
    ("baseline", "/opt/ml/processing/baseline/stats", "baseline_statistics"),
    ("constraints", "/opt/ml/processing/baseline/constraints", "baseline_constraints"),
    ("pre_processor_script", "/opt/ml/processing/code/preprocessing", "record_preprocessor_script"),
    (
        "post_processor_script",
        "/opt/ml/processing/code/postprocessing",
        "post_analytics_processor_script",
    ),
)
GROUND_TRUTH_PATH = "/opt/ml/processing/groundtruth"


@dataclass(frozen=True)
class MonitoringSpec:
    """What an execution of a schedule runs, whichever way the job was defined."""

    endpoint: str | None  # None: a batch transform's captures, under batch_capture
    local_path: str
    image: str
    output_uri: str
    output_local_path: str
    environment: dict[str, str]
    statistics_uri: str | None = None
    constraints_uri: str | None = None
    preprocessor_uri: str | None = None
    postprocessor_uri: str | None = None
    start_offset: str | None = None
    end_offset: str | None = None
    max_runtime: int | None = None
    role: str | None = None
    definition_name: str | None = None
    resources: Nested | None = None
    monitoring_type: str = "DataQuality"
    ground_truth_uri: str | None = None  # ModelQuality: the labels' hour folders are under it
    batch_capture: str | None = None  # a BatchTransformInput's DataCapturedDestinationS3Uri
    batch_format: str | None = None  # the analyzer's dataset_format of its DatasetFormat


EXECUTIONS = Kind(
    resource=EXECUTION,
    load=MonitoringExecution.from_document,
    noun="monitoring execution",
    name_key="MonitoringScheduleName",
    list_key="MonitoringExecutionSummaries",
    equals={
        "MonitoringScheduleName": "MonitoringScheduleName",
        "EndpointName": "EndpointName",
        "StatusEquals": "MonitoringExecutionStatus",
        "MonitoringJobDefinitionName": "MonitoringJobDefinitionName",
        "MonitoringTypeEquals": "MonitoringType",
    },
    sort_keys={"ScheduledTime": "ScheduledTime", "Status": "MonitoringExecutionStatus"},
)


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration such as -PT1H or -P1DT2H30M."""
    found = _DURATION.match(text.strip())
    if found is None or text.strip() in ("P", "-P", "+P", "PT", "-PT"):
        raise ValidationException(f"{text!r} is not an ISO 8601 duration such as -PT1H.")
    sign, days, hours, minutes, seconds = found.groups()
    delta = timedelta(
        days=int(days or 0), hours=int(hours or 0), minutes=int(minutes or 0),
        seconds=int(seconds or 0),
    )  # fmt: skip
    return -delta if sign == "-" else delta


def spec_of(ctx: Context, config: MonitoringScheduleConfig) -> MonitoringSpec:
    """The spec of a MonitoringScheduleConfig (named or inline job definition)."""
    monitoring_type = config.get("MonitoringType", "DataQuality")
    if monitoring_type == "ModelQuality":
        return _model_quality(ctx, config)
    if monitoring_type != "DataQuality":
        raise ValidationException(
            "smlocal emulates DataQuality and ModelQuality monitoring, not "
            f"{config['MonitoringType']}."
        )
    if "MonitoringJobDefinitionName" in config:
        return _from_definition(DEFINITIONS.get(ctx, config["MonitoringJobDefinitionName"]))
    inline = config.get("MonitoringJobDefinition")
    if inline is None:
        raise ValidationException(
            "MonitoringScheduleConfig needs MonitoringJobDefinitionName or MonitoringJobDefinition."
        )
    return _from_inline(inline)


def _model_quality(ctx: Context, config: MonitoringScheduleConfig) -> MonitoringSpec:
    """A ModelQuality schedule's spec: its named job definition's (none inline, as in AWS),
    with the analyzer's model-quality settings in the environment."""
    if "MonitoringJobDefinitionName" not in config:
        raise ValidationException(
            "A ModelQuality monitoring schedule needs MonitoringJobDefinitionName."
        )
    definition = MODEL_QUALITY_DEFINITIONS.get(ctx, config["MonitoringJobDefinitionName"])
    spec = _spec(
        job_input=definition.job_input,
        app=definition.app_specification,
        baseline=definition.baseline_config or {},
        outputs=definition.output_config,
        environment=definition.analyzer_environment(),
        stopping=definition.stopping_condition,
        role=definition.role_arn,
        definition=definition.name,
        resources=definition.job_resources,
    )
    return replace(
        spec, monitoring_type="ModelQuality", ground_truth_uri=definition.ground_truth_uri
    )


def _from_inline(inline: MonitoringJobDefinition) -> MonitoringSpec:
    """The spec of a MonitoringJobDefinition given inline."""
    return _spec(
        job_input=inline["MonitoringInputs"][0],
        app=inline["MonitoringAppSpecification"],
        baseline=inline.get("BaselineConfig") or {},
        outputs=inline["MonitoringOutputConfig"],
        environment=inline.get("Environment") or {},
        stopping=inline.get("StoppingCondition"),
        role=inline.get("RoleArn"),
        definition=None,
        resources=inline.get("MonitoringResources"),
    )


def _from_definition(definition: DataQualityJobDefinition) -> MonitoringSpec:
    app = definition.app_specification
    return _spec(
        job_input=definition.job_input,
        app=app,
        baseline=definition.baseline_config or {},
        outputs=definition.output_config,
        environment=app.get("Environment") or {},
        stopping=definition.stopping_condition,
        role=definition.role_arn,
        definition=definition.name,
        resources=definition.job_resources,
    )


def _spec(
    *,
    job_input: MonitoringInput,
    app: AppSpecification,
    baseline: BaselineConfig,
    outputs: OutputConfig,
    environment: dict[str, str],
    stopping: StoppingCondition | None,
    role: str | None,
    definition: str | None,
    resources: Nested | None,
) -> MonitoringSpec:
    output = outputs["MonitoringOutputs"][0]["S3Output"]
    endpoint_input, batch_input = (
        job_input.get("EndpointInput"),
        job_input.get("BatchTransformInput"),
    )
    monitored = endpoint_input or batch_input
    if monitored is None:
        raise ValidationException("Give an EndpointInput or a BatchTransformInput.")
    return MonitoringSpec(
        endpoint=endpoint_input["EndpointName"] if endpoint_input else None,
        batch_capture=batch_input["DataCapturedDestinationS3Uri"] if batch_input else None,
        batch_format=_batch_format(batch_input["DatasetFormat"]) if batch_input else None,
        local_path=monitored["LocalPath"],
        image=app["ImageUri"],
        output_uri=output["S3Uri"],
        output_local_path=output["LocalPath"],
        environment=dict(environment),
        statistics_uri=(baseline.get("StatisticsResource") or {}).get("S3Uri"),
        constraints_uri=(baseline.get("ConstraintsResource") or {}).get("S3Uri"),
        preprocessor_uri=app.get("RecordPreprocessorSourceUri"),
        postprocessor_uri=app.get("PostAnalyticsProcessorSourceUri"),
        start_offset=monitored.get("StartTimeOffset"),
        end_offset=monitored.get("EndTimeOffset"),
        max_runtime=None if stopping is None else stopping["MaxRuntimeInSeconds"],
        role=role,
        definition_name=definition,
        resources=resources,
    )


def _batch_format(dataset: Nested) -> str:
    """The analyzer's dataset_format for a BatchTransformInput's DatasetFormat."""
    csv = dataset.get("Csv")
    if isinstance(csv, dict):
        return dataset_format("csv", header=bool(csv.get("Header", False)))
    if "Json" in dataset:
        return dataset_format("json")
    raise ValidationException(
        "smlocal analyses batch transform captures of Csv or Json datasets; Parquet is not "
        "emulated."
    )


def window_of(
    schedule: MonitoringSchedule, spec: MonitoringSpec, fired: datetime
) -> tuple[datetime, datetime]:
    """The analysed window: NOW's offsets, the input's offsets, or the previous hour."""
    schedule_config = schedule.config["ScheduleConfig"]
    if is_now(schedule_config["ScheduleExpression"]):
        start = fired + parse_duration(schedule_config["DataAnalysisStartTime"])
        return start, fired + parse_duration(schedule_config["DataAnalysisEndTime"])
    hour = fired.replace(minute=0, second=0, microsecond=0)
    if spec.start_offset and spec.end_offset:
        return hour + parse_duration(spec.start_offset), hour + parse_duration(spec.end_offset)
    return hour - timedelta(hours=1), hour


def _captures_of(ctx: Context, endpoint: str) -> str | None:
    """s3://… where the endpoint's captures are, or None if it captures nothing."""
    found = stored(ctx, endpoint)
    if found is None or found.data_capture_config is None:
        return None
    destination = found.data_capture_config["DestinationS3Uri"]
    return capture_prefix(destination, found.name, "").uri


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _input(name: str, uri: str, local: str) -> dict[str, Any]:
    return {
        "InputName": name,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
            "S3CompressionType": "None",
        },
    }


def ground_truth_inputs(uri: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """One input per hour folder of the window (`groundtruth_input_1`, ...), as SageMaker's
    merge job has them; an hour without labels is no error (the merge reports what is
    missing)."""
    hour = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    inputs: list[dict[str, Any]] = []
    while hour < end:
        folder = f"{hour:%Y/%m/%d/%H}"
        local = f"{GROUND_TRUTH_PATH}/{folder}"
        item = _input(f"groundtruth_input_{len(inputs) + 1}", f"{uri.rstrip('/')}/{folder}", local)
        inputs.append(item)
        hour += timedelta(hours=1)
    return inputs


def execution_job(
    ctx: Context, schedule: MonitoringSchedule, spec: MonitoringSpec, fired: datetime
) -> dict[str, Any]:
    """The CreateProcessingJob request of one execution (a service-made job)."""
    start, end = window_of(schedule, spec, fired)
    hour = fired.replace(minute=0, second=0, microsecond=0)
    kind = "model-quality-monitoring" if spec.ground_truth_uri else "model-monitoring"
    name = f"{kind}-{fired:%Y%m%d%H%M}-{uuid.uuid4().hex[:8]}"
    schedule_name = schedule.name
    env = {
        "publish_cloudwatch_metrics": "Enabled",
        **spec.environment,
        "dataset_format": spec.batch_format or dataset_format("capture"),
        "dataset_source": spec.local_path,
        "output_path": spec.output_local_path,
        **({"sagemaker_endpoint_name": spec.endpoint} if spec.endpoint else {}),
        "sagemaker_monitoring_schedule_name": schedule_name,
        "start_time": _z(start),
        "end_time": _z(end),
        "metric_time": _z(hour),
    }
    inputs: list[dict[str, Any]] = []
    prefix = _captures_of(ctx, spec.endpoint) if spec.endpoint else None
    if prefix:
        inputs.append(_input("endpoint_input_1", prefix, f"{spec.local_path}/{spec.endpoint}"))
    if spec.batch_capture:  # the manifests of one side; the job reads the files they name
        side = "output" if spec.ground_truth_uri else "input"  # model quality: the .out files
        prefix = f"{spec.batch_capture.rstrip('/')}/{side}"
        inputs.append(_input(BATCH_CAPTURE_INPUT, prefix, spec.local_path))
    monitored = [spec.endpoint] if spec.endpoint else []
    uris = (
        spec.statistics_uri,
        spec.constraints_uri,
        spec.preprocessor_uri,
        spec.postprocessor_uri,
    )
    if spec.ground_truth_uri:
        inputs.extend(ground_truth_inputs(spec.ground_truth_uri, start, end))
        env["ground_truth_source"] = GROUND_TRUTH_PATH
    for (input_name, local, key), uri in zip(FILE_INPUTS, uris, strict=True):
        if uri:
            inputs.append(_input(input_name, uri, local))
            env[key] = f"{local}/{uri.rstrip('/').rsplit('/', 1)[-1]}"
    request: dict[str, Any] = {
        "ProcessingJobName": name,
        "ProcessingInputs": inputs,
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "monitoring_output",
                    "S3Output": {
                        "S3Uri": "/".join([spec.output_uri.rstrip("/"), *monitored, schedule_name])
                        + f"/{hour:%Y/%m/%d/%H}",
                        "LocalPath": spec.output_local_path,
                        "S3UploadMode": "Continuous",
                    },
                }
            ]
        },
        "AppSpecification": {"ImageUri": spec.image},
        "Environment": env,
        "RoleArn": spec.role,
        "ProcessingResources": spec.resources,
        "StoppingCondition": {"MaxRuntimeInSeconds": spec.max_runtime}
        if spec.max_runtime
        else None,
        "_CaptureWindow": CaptureWindow(_z(start), _z(end)) if prefix else None,
    }
    return {k: v for k, v in request.items() if v is not None}


def start_execution(
    ctx: Context, schedule: MonitoringSchedule, fired: datetime
) -> MonitoringExecution:
    """Record an execution and start its processing job; return the execution record."""
    spec = spec_of(ctx, schedule.config)
    request = execution_job(ctx, schedule, spec, fired)
    window = request.pop("_CaptureWindow", None)
    job = processing_jobs.new_job(ctx, request, schedule.arn, window)
    now = ctx.now()
    MONITORING_EXECUTION.check(None, "InProgress")
    execution = MonitoringExecution(
        schedule_name=schedule.name,
        scheduled_time=fired.timestamp(),
        creation_time=now,
        last_modified_time=now,
        processing_job_arn=job.arn,
        endpoint_name=spec.endpoint,
        job_definition_name=spec.definition_name,
        monitoring_type=spec.monitoring_type,
        status="InProgress",
    )
    EXECUTIONS.save(ctx, execution)
    _remember_last(ctx, execution)
    processing_jobs.runner(ctx).start(job.name)
    return execution


def execution_finished(ctx: Context, job: ProcessingJob) -> None:
    """A processing job ended: if it was an execution, record the execution's outcome."""
    name = job.name
    with ctx.store.transaction():
        execution = EXECUTIONS.find(ctx, name)
        if execution is None:
            return
        status = job.status
        if status == "Completed":
            execution.move(status_of(job.exit_message or ""))
        else:
            execution.move(status)  # Failed or Stopped
            if job.failure_reason:
                execution.failure_reason = job.failure_reason
        execution.last_modified_time = ctx.now()
        EXECUTIONS.save(ctx, execution)
        _remember_last(ctx, execution)


def _remember_last(ctx: Context, execution: MonitoringExecution) -> None:
    with ctx.store.transaction():
        schedule = find_schedule(ctx, execution.schedule_name)
        if schedule is not None:
            schedule.last_execution = execution
            save_schedule(ctx, schedule)
