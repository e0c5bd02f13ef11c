"""The SageMaker control plane: operation name -> function over the store. No HTTP here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from smlocal.emulator.control import (
    endpoint_configs,
    endpoints,
    job_definitions,
    model_packages,
    models,
    monitoring_schedules,
    pipeline_executions,
    pipelines,
    processing_jobs,
    search,
    tags,
    training_jobs,
    transform_jobs,
    tuning_jobs,
)
from smlocal.emulator.control import model_quality_definitions as mq
from smlocal.emulator.control.context import Context
from smlocal.emulator.errors import UnknownOperationException

Operation = Callable[[Context, dict[str, Any]], dict[str, Any]]

OPERATIONS: dict[str, Operation] = {
    "CreateModel": models.create_model,
    "DescribeModel": models.describe_model,
    "ListModels": models.list_models,
    "DeleteModel": models.delete_model,
    "CreateEndpointConfig": endpoint_configs.create_endpoint_config,
    "DescribeEndpointConfig": endpoint_configs.describe_endpoint_config,
    "ListEndpointConfigs": endpoint_configs.list_endpoint_configs,
    "DeleteEndpointConfig": endpoint_configs.delete_endpoint_config,
    "CreateEndpoint": endpoints.create_endpoint,
    "DescribeEndpoint": endpoints.describe_endpoint,
    "ListEndpoints": endpoints.list_endpoints,
    "UpdateEndpoint": endpoints.update_endpoint,
    "UpdateEndpointWeightsAndCapacities": endpoints.update_endpoint_weights_and_capacities,
    "DeleteEndpoint": endpoints.delete_endpoint,
    "AddTags": tags.add_tags,
    "DeleteTags": tags.delete_tags,
    "ListTags": tags.list_tags,
    "Search": search.search,
    "CreateModelPackageGroup": model_packages.create_model_package_group,
    "DescribeModelPackageGroup": model_packages.describe_model_package_group,
    "ListModelPackageGroups": model_packages.list_model_package_groups,
    "DeleteModelPackageGroup": model_packages.delete_model_package_group,
    "CreateModelPackage": model_packages.create_model_package,
    "DescribeModelPackage": model_packages.describe_model_package,
    "ListModelPackages": model_packages.list_model_packages,
    "UpdateModelPackage": model_packages.update_model_package,
    "DeleteModelPackage": model_packages.delete_model_package,
    "CreateProcessingJob": processing_jobs.create_processing_job,
    "DescribeProcessingJob": processing_jobs.describe_processing_job,
    "ListProcessingJobs": processing_jobs.list_processing_jobs,
    "StopProcessingJob": processing_jobs.stop_processing_job,
    "CreateTransformJob": transform_jobs.create_transform_job,
    "DescribeTransformJob": transform_jobs.describe_transform_job,
    "ListTransformJobs": transform_jobs.list_transform_jobs,
    "StopTransformJob": transform_jobs.stop_transform_job,
    "CreateDataQualityJobDefinition": job_definitions.create_data_quality_job_definition,
    "DescribeDataQualityJobDefinition": job_definitions.describe_data_quality_job_definition,
    "ListDataQualityJobDefinitions": job_definitions.list_data_quality_job_definitions,
    "DeleteDataQualityJobDefinition": job_definitions.delete_data_quality_job_definition,
    "CreateModelQualityJobDefinition": mq.create_model_quality_job_definition,
    "DescribeModelQualityJobDefinition": mq.describe_model_quality_job_definition,
    "ListModelQualityJobDefinitions": mq.list_model_quality_job_definitions,
    "DeleteModelQualityJobDefinition": mq.delete_model_quality_job_definition,
    "CreateMonitoringSchedule": monitoring_schedules.create_monitoring_schedule,
    "DescribeMonitoringSchedule": monitoring_schedules.describe_monitoring_schedule,
    "ListMonitoringSchedules": monitoring_schedules.list_monitoring_schedules,
    "UpdateMonitoringSchedule": monitoring_schedules.update_monitoring_schedule,
    "StartMonitoringSchedule": monitoring_schedules.start_monitoring_schedule,
    "StopMonitoringSchedule": monitoring_schedules.stop_monitoring_schedule,
    "DeleteMonitoringSchedule": monitoring_schedules.delete_monitoring_schedule,
    "ListMonitoringExecutions": monitoring_schedules.list_monitoring_executions,
    "CreateTrainingJob": training_jobs.create_training_job,
    "DescribeTrainingJob": training_jobs.describe_training_job,
    "ListTrainingJobs": training_jobs.list_training_jobs,
    "StopTrainingJob": training_jobs.stop_training_job,
    "CreateHyperParameterTuningJob": tuning_jobs.create_hyper_parameter_tuning_job,
    "DescribeHyperParameterTuningJob": tuning_jobs.describe_hyper_parameter_tuning_job,
    "ListHyperParameterTuningJobs": tuning_jobs.list_hyper_parameter_tuning_jobs,
    "StopHyperParameterTuningJob": tuning_jobs.stop_hyper_parameter_tuning_job,
    "DeleteHyperParameterTuningJob": tuning_jobs.delete_hyper_parameter_tuning_job,
    "ListTrainingJobsForHyperParameterTuningJob": (
        tuning_jobs.list_training_jobs_for_hyper_parameter_tuning_job
    ),
    "CreatePipeline": pipelines.create_pipeline,
    "UpdatePipeline": pipelines.update_pipeline,
    "DescribePipeline": pipelines.describe_pipeline,
    "ListPipelines": pipelines.list_pipelines,
    "DeletePipeline": pipelines.delete_pipeline,
    "StartPipelineExecution": pipeline_executions.start_pipeline_execution,
    "DescribePipelineExecution": pipeline_executions.describe_pipeline_execution,
    "ListPipelineExecutions": pipeline_executions.list_pipeline_executions,
    "ListPipelineExecutionSteps": pipeline_executions.list_pipeline_execution_steps,
    "StopPipelineExecution": pipeline_executions.stop_pipeline_execution,
    "RetryPipelineExecution": pipeline_executions.retry_pipeline_execution,
    "DescribePipelineDefinitionForExecution": (
        pipeline_executions.describe_pipeline_definition_for_execution
    ),
    "ListPipelineParametersForExecution": (
        pipeline_executions.list_pipeline_parameters_for_execution
    ),
}


class ControlPlane:
    """Calls the operation's function with the context; the wire layer does the rest."""

    def __init__(self, ctx: Context, operations: dict[str, Operation] | None = None) -> None:
        self.ctx = ctx
        self.operations = dict(OPERATIONS if operations is None else operations)

    def __call__(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        function = self.operations.get(operation)
        if function is None:
            raise UnknownOperationException(
                f"SageMaker.{operation} is part of the SageMaker API but smlocal does not "
                "emulate it."
            )
        return function(self.ctx, params)
