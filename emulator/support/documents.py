"""What a stored document must hold for smlocal to start with it.

At start-up the store checks each document of these kinds for the fields that the start
reads (restoring endpoints, ending interrupted jobs, ticking schedules: the members their
typed records cannot be loaded without); a document that
lacks one, or holds a value of the wrong type, is quarantined with a warning instead of
stopping the start. Other kinds are read only when asked for.
"""

from __future__ import annotations

from collections.abc import Mapping

Number = (int, float)

REQUIRED: Mapping[str, Mapping[str, type | tuple[type, ...]]] = {
    "endpoint": {
        "EndpointName": str,
        "EndpointArn": str,
        "EndpointConfigName": str,
        "CreationTime": Number,
        "EndpointStatus": str,
        "_Plan": dict,
    },
    "training-job": {
        "TrainingJobName": str,
        "TrainingJobArn": str,
        "TrainingJobStatus": str,
        "SecondaryStatus": str,
        "SecondaryStatusTransitions": list,
        "ModelArtifacts": dict,
        "AlgorithmSpecification": dict,
        "RoleArn": str,
        "OutputDataConfig": dict,
        "ResourceConfig": dict,
        "CreationTime": Number,
        "LastModifiedTime": Number,
    },
    "processing-job": {
        "ProcessingJobName": str,
        "ProcessingJobArn": str,
        "ProcessingJobStatus": str,
        "AppSpecification": dict,
        "CreationTime": Number,
        "LastModifiedTime": Number,
        "ProcessingStartTime": Number,
    },
    "transform-job": {
        "TransformJobName": str,
        "TransformJobArn": str,
        "TransformJobStatus": str,
        "ModelName": str,
        "TransformInput": dict,
        "TransformOutput": dict,
        "TransformResources": dict,
        "CreationTime": Number,
        "LastModifiedTime": Number,
        "_Container": dict,
    },
    "monitoring-schedule": {
        "MonitoringScheduleName": str,
        "MonitoringScheduleArn": str,
        "MonitoringScheduleStatus": str,
        "MonitoringScheduleConfig": dict,
        "MonitoringType": str,
        "EndpointName": (str, type(None)),  # None: a batch transform's captures
        "CreationTime": Number,
        "LastModifiedTime": Number,
    },
    "hyper-parameter-tuning-job": {
        "HyperParameterTuningJobName": str,
        "HyperParameterTuningJobArn": str,
        "HyperParameterTuningJobStatus": str,
        "HyperParameterTuningJobConfig": dict,
        "CreationTime": Number,
        "LastModifiedTime": Number,
    },
    "pipeline-execution": {
        "PipelineExecutionArn": str,
        "PipelineArn": str,
        "PipelineExecutionStatus": str,
        "CreationTime": Number,
        "LastModifiedTime": Number,
        "_PipelineName": str,
        "_Definition": str,
        "_Parameters": dict,
    },
}
NAME_FIELDS = {
    "endpoint": "EndpointName",
    "training-job": "TrainingJobName",
    "processing-job": "ProcessingJobName",
    "monitoring-schedule": "MonitoringScheduleName",
    "pipeline-execution": "PipelineExecutionArn",
    "transform-job": "TransformJobName",
    "hyper-parameter-tuning-job": "HyperParameterTuningJobName",
}


def problem(kind: str, key: str, doc: dict[str, object]) -> str | None:
    """Why a document of a kind cannot be used, or None."""
    for name, expected in REQUIRED.get(kind, {}).items():
        if not isinstance(doc.get(name), expected) or isinstance(doc.get(name), bool):
            return f"its {name} is missing or of the wrong type"
    field = NAME_FIELDS.get(kind)
    if field is not None and str(doc[field]).lower() != key:
        return f"its {field} does not match the key it is stored under"
    return None
