"""The SageMaker runtime: InvokeEndpoint through a variant's model server, and its metrics."""
