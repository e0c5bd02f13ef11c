"""The example endpoint `make run` starts: SageMaker's iris XGBoost model with capture on."""

from __future__ import annotations

import logging
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

from smlocal.emulator.control import endpoint_configs, endpoints, models
from smlocal.emulator.control.context import Context
from smlocal.emulator.errors import AWSError
from smlocal.emulator.hosting.endpoint_manager import EndpointManager
from smlocal.emulator.support.clients import client

ENDPOINT = "iris-example"
BUCKET = "smlocal-example"
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
CAPTURE_URI = f"s3://{BUCKET}/datacapture"
BROKEN = ("Failed", "UpdateRollbackFailed")  # statuses the example is built again from

log = logging.getLogger("smlocal")


# The SageMaker SDK's defaults file with telemetry off: the SDK sends telemetry to a fixed
# AWS host whatever AWS_ENDPOINT_URL says; this setting (its `TelemetryOptOut`) stops it.
SDK_CONFIG_FILE = "sagemaker-sdk-config.yaml"
SDK_CONFIG = """SchemaVersion: '1.0'
SageMaker:
  PythonSDK:
    Modules:
      TelemetryOptOut: true
"""


def write_sdk_config(data_dir: Path) -> Path:
    """Write the SDK defaults file that opts out of telemetry; return its path."""
    path = data_dir.resolve() / SDK_CONFIG_FILE
    path.write_text(SDK_CONFIG)
    return path


def shell_commands() -> tuple[str, str]:
    """How a second terminal runs this installation's tools: an activation line (empty when
    not in a virtual environment) and the smlocal command (an absolute path without one)."""
    activate = Path(sys.prefix) / "bin" / "activate"
    if sys.prefix != sys.base_prefix and activate.is_file():
        return f"source {shlex.quote(str(activate))}  # aws and smlocal on PATH\n", "smlocal"
    script = Path(sys.executable).parent / "smlocal"
    if script.is_file():
        return "", shlex.quote(str(script))
    return "", f"{shlex.quote(sys.executable)} -m smlocal.emulator.cli"


def snippet(
    url: str,
    region: str,
    roll_seconds: float | None = None,
    sdk_config: Path | None = None,
    s3_endpoint: str | None = None,
) -> str:
    """Copy-paste commands, for a second terminal, to invoke the example endpoint and list
    its captures."""
    roll = roll_seconds or 60
    activate, smlocal = shell_commands()
    sdk = (
        "# SageMaker SDK: no telemetry to AWS (SAGEMAKER_USER_CONFIG_OVERRIDE replaces "
        "~/.config/sagemaker/config.yaml;\n# or put SageMaker.PythonSDK.Modules."
        "TelemetryOptOut: true in that file yourself)\n"
        f"export SAGEMAKER_USER_CONFIG_OVERRIDE={shlex.quote(str(sdk_config))}\n"
        if sdk_config
        else ""
    )
    if s3_endpoint:  # S3 is elsewhere, with its own credentials: never printed here
        where = (
            f"export AWS_ENDPOINT_URL={url} AWS_ENDPOINT_URL_S3={s3_endpoint} "
            f"AWS_DEFAULT_REGION={region}\n"
            f"# with the credentials of {s3_endpoint} (AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE)\n"
        )
    else:
        where = (
            f"export AWS_ENDPOINT_URL={url} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test "
            f"AWS_DEFAULT_REGION={region}\n"
        )
    return (
        f"{activate}{where}{sdk}"
        f"curl -s {url}/_smlocal/health  # ready when its status is ready\n"
        "# AWS CLI v1 (installed with smlocal); with v2 add --cli-binary-format "
        "raw-in-base64-out\n"
        f"aws sagemaker-runtime invoke-endpoint --endpoint-name {ENDPOINT} "
        "--content-type text/csv --body 5.1,3.5,1.4,0.2 /dev/stdout\n"
        f"# captures reach S3 up to {roll:g} s after the first record of a file "
        "(SMLOCAL_CAPTURE_ROLL_SECONDS)\n"
        f"aws s3 ls --recursive s3://{BUCKET}/datacapture/\n"
        f"{smlocal} captures ls s3://{BUCKET}/datacapture/{ENDPOINT}/\n"
        f"# or upload what is spooled now: {smlocal} captures flush {ENDPOINT}\n"
        f"# the whole walk (traffic, baseline, monitoring, report): {smlocal} demo"
    )


def upload_model(s3: Any) -> str:
    """Train the iris model in a fresh process, package it like SageMaker training, upload it."""
    from smlocal.model_server.artifacts import pack_archive
    from smlocal.model_server.example import train_iris_in_subprocess

    with tempfile.TemporaryDirectory() as tmp:
        folder = train_iris_in_subprocess(Path(tmp) / "model")
        archive = pack_archive(folder, Path(tmp) / "model.tar.gz")
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if BUCKET not in existing:
            s3.create_bucket(Bucket=BUCKET)
        s3.upload_file(str(archive), BUCKET, "iris/model.tar.gz")
    return f"s3://{BUCKET}/iris/model.tar.gz"


def model_request(model_data: str) -> dict[str, Any]:
    """CreateModel of the example: SageMaker's XGBoost 1.7-1 image with the iris model."""
    return {
        "ModelName": f"{ENDPOINT}-model",
        "ExecutionRoleArn": ROLE,
        "PrimaryContainer": {"Image": IMAGE, "ModelDataUrl": model_data},
    }


def endpoint_config_request() -> dict[str, Any]:
    """CreateEndpointConfig of the example: one instance, every request captured."""
    return {
        "EndpointConfigName": ENDPOINT,
        "ProductionVariants": [
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{ENDPOINT}-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
        "DataCaptureConfig": {
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": CAPTURE_URI,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {
                "CsvContentTypes": ["text/csv"],
                "JsonContentTypes": ["application/json"],
            },
        },
    }


def endpoint_request() -> dict[str, Any]:
    """CreateEndpoint of the example."""
    return {"EndpointName": ENDPOINT, "EndpointConfigName": ENDPOINT}


class ExampleUnavailable(Exception):
    """The example endpoint cannot serve: the message says why, in one line."""


def create_example_endpoint(ctx: Context, manager: EndpointManager) -> str:
    """Create the example endpoint, or build it again when it was deleted or is Failed; wait
    for it and return the snippet to use it (ExampleUnavailable when it cannot serve)."""
    settings = ctx.settings
    sdk_config = write_sdk_config(settings.data_dir)
    text = snippet(
        settings.edge_url, ctx.region, settings.capture_roll_seconds, sdk_config,
        settings.s3_endpoint,
    )  # fmt: skip
    endpoint = endpoints.ENDPOINTS.find(ctx, ENDPOINT)
    if endpoint is not None and endpoint.status in BROKEN:
        log.info("the example endpoint %s is %s (%s); building it again", ENDPOINT,
                 endpoint.status, endpoint.failure_reason or "no reason given")  # fmt: skip
        # not DeleteEndpoint, which monitoring schedules of it refuse (`smlocal demo` leaves
        # one): they go on watching the endpoint built again under the same name
        with ctx.store.transaction():
            manager.delete(ENDPOINT)
        manager.wait()
        endpoint = None
    if endpoint is None:
        try:
            _build(ctx, upload_model(client(settings, "s3")))
        except AWSError as exc:
            raise ExampleUnavailable(f"cannot create {ENDPOINT}: {exc.message}") from None
        manager.wait()
        endpoint = endpoints.ENDPOINTS.find(ctx, ENDPOINT)
    status = endpoint.status if endpoint is not None else "gone"
    if status != "InService":
        reason = endpoint.failure_reason if endpoint is not None else None
        raise ExampleUnavailable(f"{ENDPOINT} is {status}" + (f": {reason}" if reason else ""))
    return text


def _build(ctx: Context, model_data: str) -> None:
    """The example's model, endpoint config and endpoint; a model or config left over under
    the example's names (its endpoint was deleted) is replaced."""
    if ctx.store.get(models.KIND, f"{ENDPOINT}-model") is not None:
        models.delete_model(ctx, {"ModelName": f"{ENDPOINT}-model"})
    models.create_model(ctx, model_request(model_data))
    if ctx.store.get(endpoint_configs.KIND, ENDPOINT) is not None:
        endpoint_configs.delete_endpoint_config(ctx, {"EndpointConfigName": ENDPOINT})
    endpoint_configs.create_endpoint_config(ctx, endpoint_config_request())
    endpoints.create_endpoint(ctx, endpoint_request())
