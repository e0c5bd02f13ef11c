"""smlocal data capture: SageMaker-format capture of invocations into S3.

Modules: `config` (DataCaptureConfig, validated like the API), `aws_shapes` (documents
checked against botocore's models in AWS's words, shared with the emulator), `sampler`,
`record` (the capture line), `keys` (S3 layout), `middleware` (CaptureMiddleware, plain
WSGI), `spool`, `uploader`, `session`, `counters` and `runtime` (per-worker delivery, flush
and stats), `settings` and `serving` (enabled from the environment by `smlocal serve`),
`listing`, `reader` (iter_records, DataFrames, export), `validate` (JSON Schema checks) and
`cli` (`smlocal captures`). Nothing here imports the rest of smlocal.
"""
