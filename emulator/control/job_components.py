"""The trial components of jobs: a training, processing or transform job created with an
ExperimentConfig gets a component of its own, named `{job}-aws-training-job`
(`-aws-processing-job`, `-aws-transform-job`) as on SageMaker, associated with the config's
trial. Its status, times, parameters, artifacts and final metrics are read from the job
whenever the component is read: the job's record stays the one place they are kept.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from smlocal.emulator.control.context import Context
from smlocal.emulator.control.experiments import EXPERIMENTS, TRIALS, new_trial
from smlocal.emulator.control.trial_associations import associate
from smlocal.emulator.control.trial_component_records import (
    TRIAL_COMPONENTS,
    MetricSummary,
    TrialComponent,
    new_component,
)
from smlocal.emulator.errors import ValidationException
from smlocal.emulator.support.records import Document, Nested

JOB_SOURCES = {  # the job's store kind: (its component's suffix, SourceType, status key)
    "training-job": ("aws-training-job", "SageMakerTrainingJob", "TrainingJobStatus"),
    "processing-job": ("aws-processing-job", "SageMakerProcessingJob", "ProcessingJobStatus"),
    "transform-job": ("aws-transform-job", "SageMakerTransformJob", "TransformJobStatus"),
}


def check_experiment_config(ctx: Context, config: Nested | None) -> None:
    """Refuse, before the job is stored, an ExperimentConfig naming a missing experiment or
    trial, or a trial of another experiment."""
    if not config:
        return
    experiment = config.get("ExperimentName")
    if experiment is not None:
        EXPERIMENTS.get(ctx, str(experiment))
    trial_name = config.get("TrialName")
    if trial_name is not None:
        trial = TRIALS.get(ctx, str(trial_name))
        if experiment is not None and trial.experiment_name.lower() != str(experiment).lower():
            raise ValidationException(
                f"Trial '{trial.name}' belongs to experiment '{trial.experiment_name}', not "
                f"'{experiment}'."
            )


def join_experiment(
    ctx: Context, kind: str, job_name: str, job_arn: str, config: Nested | None
) -> None:
    """A job's component, associated with the ExperimentConfig's trial (a new trial named
    after the component when only the experiment is given)."""
    if not config:
        return
    suffix, source_type, _ = JOB_SOURCES[kind]
    name = f"{job_name}-{suffix}"
    component = new_component(
        ctx,
        name,
        display_name=config.get("TrialComponentDisplayName"),
        source={"SourceArn": job_arn, "SourceType": source_type},
        job={"Kind": kind, "Name": job_name},
        run_name=config.get("RunName"),
    )
    with ctx.store.transaction():
        if TRIAL_COMPONENTS.find(ctx, name) is None:
            TRIAL_COMPONENTS.save(ctx, component)
        trial_name = config.get("TrialName")
        experiment = config.get("ExperimentName")
        if trial_name is None and experiment is not None:
            trial_name = new_trial(ctx, name, str(experiment)).name
        if trial_name is not None:
            associate(ctx, str(trial_name), name)


def current(ctx: Context, component: TrialComponent) -> TrialComponent:
    """The component as it reads now: a job's with its job's status, times, parameters,
    artifacts and final metrics."""
    if component.job is None:
        return component
    kind, job_name = str(component.job["Kind"]), str(component.job["Name"])
    job = ctx.store.get(kind, job_name)
    if job is None:  # the job's record is gone (an account reset): the component stays
        return component
    return replace(component, **_job_view(kind, job, component))


def _job_view(kind: str, job: Document, component: TrialComponent) -> dict[str, Any]:
    _, _, status_key = JOB_SOURCES[kind]
    status = {"PrimaryStatus": job[status_key]}
    if job.get("FailureReason"):
        status["Message"] = job["FailureReason"]
    start = (
        job.get("TrainingStartTime")
        or job.get("ProcessingStartTime")
        or job.get("TransformStartTime")
    )
    end = job.get("TrainingEndTime") or job.get("ProcessingEndTime") or job.get("TransformEndTime")
    parameters, inputs, outputs = _job_artifacts(kind, job)
    metrics = dict(component.metrics)
    for final in job.get("FinalMetricDataList") or []:
        summary = MetricSummary(final["MetricName"])
        if summary.add(float(final["Value"]), float(final.get("Timestamp") or 0)):
            metrics.setdefault(summary.name, summary)  # a NaN final metric is no summary
    return {"status": status, "start_time": start, "end_time": end, "parameters": parameters,
            "input_artifacts": inputs, "output_artifacts": outputs, "metrics": metrics,
            "last_modified_time": max(component.last_modified_time,
                                      job.get("LastModifiedTime") or 0)}  # fmt: skip


def _text(value: Any) -> Nested:
    return {"StringValue": str(value)}


def _training(job: Document) -> tuple[dict[str, Nested], dict[str, Nested], dict[str, Nested]]:
    spec, resources = job.get("AlgorithmSpecification", {}), job.get("ResourceConfig", {})
    parameters = {k: _text(v) for k, v in (job.get("HyperParameters") or {}).items()}
    parameters.update(_resources(resources))
    parameters["SageMaker.VolumeSizeInGB"] = {"NumberValue": resources.get("VolumeSizeInGB")}
    inputs = _image(spec.get("TrainingImage"))
    for channel in job.get("InputDataConfig") or []:
        uri = channel.get("DataSource", {}).get("S3DataSource", {}).get("S3Uri")
        media = {"MediaType": channel["ContentType"]} if channel.get("ContentType") else {}
        inputs[channel["ChannelName"]] = {**media, "Value": uri}
    model = (job.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
    done = job.get("TrainingJobStatus") == "Completed"
    outputs = {"SageMaker.ModelArtifact": {"Value": model}} if done and model else {}
    return parameters, inputs, outputs


def _processing(job: Document) -> tuple[dict[str, Nested], dict[str, Nested], dict[str, Nested]]:
    cluster = job.get("ProcessingResources", {}).get("ClusterConfig", {})
    parameters = _resources(cluster)
    parameters["SageMaker.VolumeSizeInGB"] = {"NumberValue": cluster.get("VolumeSizeInGB")}
    inputs = _image(job.get("AppSpecification", {}).get("ImageUri"))
    for given in job.get("ProcessingInputs") or []:
        inputs[given["InputName"]] = {"Value": (given.get("S3Input") or {}).get("S3Uri")}
    outputs = {
        output["OutputName"]: {"Value": (output.get("S3Output") or {}).get("S3Uri")}
        for output in (job.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    }
    return parameters, inputs, outputs


def _transform(job: Document) -> tuple[dict[str, Nested], dict[str, Nested], dict[str, Nested]]:
    source = job.get("TransformInput", {}).get("DataSource", {}).get("S3DataSource", {})
    inputs = {"SageMaker.Transform.Input": {"Value": source.get("S3Uri")}}
    path = job.get("TransformOutput", {}).get("S3OutputPath")
    outputs = {"SageMaker.Transform.Output": {"Value": path}}
    return _resources(job.get("TransformResources", {})), inputs, outputs


def _resources(resources: Document) -> dict[str, Nested]:
    return {"SageMaker.InstanceType": _text(resources.get("InstanceType")),
            "SageMaker.InstanceCount": {"NumberValue": resources.get("InstanceCount")}}  # fmt: skip


def _image(uri: str | None) -> dict[str, Nested]:
    return {"SageMaker.ImageUri": {"Value": uri}}


_ARTIFACTS = {"training-job": _training, "processing-job": _processing,
              "transform-job": _transform}  # fmt: skip


def _job_artifacts(
    kind: str, job: Document
) -> tuple[dict[str, Nested], dict[str, Nested], dict[str, Nested]]:
    """Parameters, input and output artifacts of a job's component, as SageMaker fills them
    (members whose value the job does not have are left out)."""
    return tuple(  # type: ignore[return-value]
        {k: v for k, v in found.items() if None not in v.values() and "None" not in v.values()}
        for found in _ARTIFACTS[kind](job)
    )
