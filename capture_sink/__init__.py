"""smlocal data capture: SageMaker-format capture of invocations into S3."""
