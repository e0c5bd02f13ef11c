"""SageMaker Pipelines: the executor that runs a pipeline definition's steps."""
