"""Multi-model endpoints through boto3, the AWS CLI and the SageMaker SDK's MultiDataModel:
models loaded on first use from the prefix, kept least recently used first under a budget,
SageMaker's errors, capture records naming the target model, and a dead instance reloading."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import botocore.exceptions
import psutil
import pytest
from botocore.config import Config

from smlocal.capture_sink.validate import check_record
from tests.conftest import train_iris_tar
from tests.support import ROLE, XGBOOST_IMAGE, unique, wait_for_status

ROW = b"7.7,3.0,6.1,2.3"
NO_RETRY = Config(retries={"max_attempts": 1})


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two iris models answering differently: classes (softmax) and probabilities (softprob)."""
    root = tmp_path_factory.mktemp("mme-models")
    (root / "a").mkdir()
    (root / "b").mkdir()
    return {
        "model-a.tar.gz": train_iris_tar(root / "a", "multi:softmax"),
        "model-b.tar.gz": train_iris_tar(root / "b", "multi:softprob"),
    }


def upload(emulator, bucket: str, archives: dict[str, Path], extra: dict[str, bytes]) -> str:  # type: ignore[no-untyped-def]
    """The models under s3://bucket/models/ (plus raw `extra` objects); the prefix."""
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket=bucket)
    for key, path in archives.items():
        s3.upload_file(str(path), bucket, f"models/{key}")
    for key, body in extra.items():
        s3.put_object(Bucket=bucket, Key=f"models/{key}", Body=body)
    return f"s3://{bucket}/models/"


def deploy_mme(sm, prefix: str, *, capture: str | None = None, cache: bool = True) -> str:  # type: ignore[no-untyped-def]
    """A multi-model endpoint on the prefix; its name (also its model's and config's)."""
    name = unique("mme")
    container = {"Image": XGBOOST_IMAGE, "Mode": "MultiModel", "ModelDataUrl": prefix}
    if not cache:
        container["MultiModelConfig"] = {"ModelCacheSetting": "Disabled"}
    sm.create_model(ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer=container)
    config = {
        "EndpointConfigName": name,
        "ProductionVariants": [
            {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
             "InstanceType": "ml.m5.large"}
        ],
    }  # fmt: skip
    if capture:
        config["DataCaptureConfig"] = {
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": capture,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
        }
    sm.create_endpoint_config(**config)
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    assert wait_for_status(sm, name)["EndpointStatus"] == "InService"
    return name


def invoke(runtime, name: str, target: str | None, body: bytes = ROW) -> str:  # type: ignore[no-untyped-def]
    extra = {} if target is None else {"TargetModel": target}
    answer = runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=body, **extra)
    return str(answer["Body"].read().decode())


def error_of(call) -> dict:  # type: ignore[no-untyped-def]
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call()
    return caught.value.response  # type: ignore[no-any-return]


def test_each_target_model_answers_and_errors_are_sagemakers(smlocal, archives) -> None:
    sm = smlocal.client("sagemaker")
    runtime = smlocal.client("sagemaker-runtime", config=NO_RETRY)
    prefix = upload(smlocal, "mme-boto", archives, {"broken.tar.gz": b"not a tar archive"})
    name = deploy_mme(sm, prefix)
    assert sm.describe_model(ModelName=name)["PrimaryContainer"]["Mode"] == "MultiModel"

    assert invoke(runtime, name, "model-a.tar.gz").strip() == "2.0"
    probabilities = invoke(runtime, name, "model-b.tar.gz")
    assert len(probabilities.strip().split(",")) == 3  # softprob: one per class
    assert invoke(runtime, name, "model-a.tar.gz").strip() == "2.0"  # from the cache

    missing = error_of(lambda: invoke(runtime, name, "nope.tar.gz"))
    assert missing["Error"]["Code"] == "ValidationError"
    assert missing["Error"]["Message"] == (
        "Failed to download model data(bucket: mme-boto, key: models/nope.tar.gz). Please "
        "ensure that there is an object located at the URL and that the role passed to "
        "CreateModel has permissions to download the model."
    )
    broken = error_of(lambda: invoke(runtime, name, "broken.tar.gz"))
    assert broken["Error"]["Code"] == "ModelError"
    assert broken["OriginalStatusCode"] == 500
    assert "Failed to load model broken.tar.gz" in broken["OriginalMessage"]

    no_target = error_of(lambda: invoke(runtime, name, None))
    assert no_target["Error"]["Code"] == "ValidationError"
    request_id = no_target["ResponseMetadata"]["RequestId"]
    assert no_target["Error"]["Message"] == (
        f"Request {request_id} is missing a target model header."
    )
    # the endpoint still serves after its errors
    assert invoke(runtime, name, "model-a.tar.gz").strip() == "2.0"


def test_target_model_on_a_single_model_endpoint_and_bad_models_are_refused(
    smlocal, iris_model_data
) -> None:
    sm = smlocal.client("sagemaker")
    runtime = smlocal.client("sagemaker-runtime", config=NO_RETRY)
    name = unique("single")
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": iris_model_data},
    )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
             "InstanceType": "ml.m5.large"}
        ],
    )  # fmt: skip
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    assert wait_for_status(sm, name)["EndpointStatus"] == "InService"
    refused = error_of(lambda: invoke(runtime, name, "model-a.tar.gz"))
    assert refused["Error"]["Code"] == "ValidationError"
    assert refused["Error"]["Message"] == (
        f"Endpoint {name} is not a multi-model endpoint and does not support target model header."
    )
    assert invoke(runtime, name, None).strip() == "2.0"

    not_multi = error_of(
        lambda: sm.create_model(
            ModelName=unique("bad"),
            ExecutionRoleArn=ROLE,
            PrimaryContainer={
                "Image": XGBOOST_IMAGE,
                "ModelDataUrl": iris_model_data,
                "MultiModelConfig": {"ModelCacheSetting": "Disabled"},
            },
        )
    )
    assert not_multi["Error"]["Code"] == "ValidationException"
    assert "MultiModelConfig" in not_multi["Error"]["Message"]
    no_prefix = error_of(
        lambda: sm.create_model(
            ModelName=unique("bad"),
            ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": XGBOOST_IMAGE, "Mode": "MultiModel"},
        )
    )
    assert no_prefix["Error"]["Code"] == "ValidationException"
    assert "ModelDataUrl" in no_prefix["Error"]["Message"]


def test_capture_records_name_their_target_model(smlocal, archives) -> None:
    sm = smlocal.client("sagemaker")
    runtime = smlocal.client("sagemaker-runtime", config=NO_RETRY)
    prefix = upload(smlocal, "mme-capture", archives, {})
    name = deploy_mme(sm, prefix, capture="s3://mme-capture/captured")
    invoke(runtime, name, "model-a.tar.gz")
    invoke(runtime, name, "model-b.tar.gz")
    with pytest.raises(botocore.exceptions.ClientError):  # refused: never captured
        invoke(runtime, name, "nope.tar.gz")
    records = smlocal.captures(name)
    assert sorted(r["eventMetadata"]["targetModel"] for r in records) == [
        "model-a.tar.gz",
        "model-b.tar.gz",
    ]
    for record in records:
        assert check_record(record) == []
        assert record["captureData"]["endpointInput"]["data"] == ROW.decode()
        assert list(record["eventMetadata"]) == ["eventId", "targetModel", "inferenceTime"]
    keys = [
        o["Key"]
        for o in smlocal.client("s3").list_objects_v2(Bucket="mme-capture")["Contents"]
        if o["Key"].startswith("captured/")
    ]
    assert keys
    assert all(k.startswith(f"captured/{name}/AllTraffic/") for k in keys)


def statistics(cw, name: str, metric: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    points = cw.get_metric_statistics(
        Namespace="AWS/SageMaker",
        MetricName=metric,
        Dimensions=[
            {"Name": "EndpointName", "Value": name},
            {"Name": "VariantName", "Value": "AllTraffic"},
        ],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["SampleCount", "Sum"],
    )["Datapoints"]
    return {s: sum(p[s] for p in points) for s in ("SampleCount", "Sum")}


def wait_samples(cw, name: str, metric: str, count: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 60
    while (found := statistics(cw, name, metric))["SampleCount"] < count:
        assert time.monotonic() < deadline, f"{metric}: {found}, want {count} samples"
        time.sleep(0.3)
    return found


def padded(archive: Path, folder: Path, kilobytes: int) -> Path:
    """A copy of the model with a filler file: a model that is `kilobytes` larger."""
    import tarfile

    from smlocal.model_server.artifacts import pack_archive

    folder.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    (folder / "filler.bin").write_bytes(os.urandom(kilobytes * 1024))
    return pack_archive(folder, folder.parent / f"{folder.name}.tar.gz")


def model_server_of(emulator, name: str) -> psutil.Process:  # type: ignore[no-untyped-def]
    for child in psutil.Process(emulator.proc.pid).children():
        try:
            if child.environ().get("SMLOCAL_ENDPOINT_NAME") == name:
                return child
        except psutil.Error:
            continue
    raise AssertionError(f"no model server for {name}")


def test_least_recently_used_models_are_unloaded_and_a_dead_instance_reloads(
    smlocal_factory, archives, tmp_path
) -> None:
    emulator = smlocal_factory(
        env={"SMLOCAL_MULTI_MODEL_MEMORY_MB": "1", "SMLOCAL_METRICS_PERIOD_SECONDS": "0.3"}
    )
    big = {
        key: padded(path, tmp_path / key.removesuffix(".tar.gz"), 600)
        for key, path in archives.items()
    }
    sm = emulator.client("sagemaker")
    runtime = emulator.client("sagemaker-runtime", config=NO_RETRY)
    cw = emulator.client("cloudwatch")
    name = deploy_mme(sm, upload(emulator, "mme-lru", big, {}))
    # one 600 KB model fits the 1 MB budget, two do not: a, b, a, a loads a again once
    for target in ("model-a.tar.gz", "model-b.tar.gz", "model-a.tar.gz", "model-a.tar.gz"):
        invoke(runtime, name, target)
    assert wait_samples(cw, name, "ModelCacheHit", 4)["Sum"] == 1
    assert wait_samples(cw, name, "ModelLoadingTime", 3)["SampleCount"] == 3
    assert wait_samples(cw, name, "LoadedModelCount", 4)["Sum"] == 4  # never more than one
    log = "".join(p.read_text() for p in (emulator.data_dir / "logs").rglob(f"*{name}*/**/*.log"))
    assert "unloaded model model-a.tar.gz" in log
    assert "unloaded model model-b.tar.gz" in log

    # small models both fit: a, b, a finds a loaded
    small = deploy_mme(sm, upload(emulator, "mme-small", archives, {}))
    for target in ("model-a.tar.gz", "model-b.tar.gz", "model-a.tar.gz"):
        invoke(runtime, small, target)
    assert wait_samples(cw, small, "ModelCacheHit", 3)["Sum"] == 1
    assert wait_samples(cw, small, "LoadedModelCount", 3)["Sum"] == 1 + 2 + 2

    # the instance dies: its replacement loads the model again on the next call
    server = model_server_of(emulator, small)
    for process in [*server.children(), server]:
        process.kill()
    deadline = time.monotonic() + 90
    while True:
        try:
            replacement = model_server_of(emulator, small)
            if replacement.pid != server.pid:
                assert invoke(runtime, small, "model-a.tar.gz").strip() == "2.0"
                break
        except (AssertionError, botocore.exceptions.ClientError):
            pass
        assert time.monotonic() < deadline, emulator.log()[-3000:]
        time.sleep(0.3)
    assert wait_samples(cw, small, "ModelCacheHit", 4)["Sum"] == 1  # a miss after restart

    # the emulator restarts: the endpoint comes back multi-model and loads on demand again
    emulator.restart()
    deadline = time.monotonic() + 120
    while True:
        try:
            assert invoke(runtime, small, "model-b.tar.gz").count(",") == 2
            break
        except botocore.exceptions.ClientError as exc:
            code = exc.response["Error"]["Code"]
            assert code == "ServiceUnavailable", exc.response  # noqa: PT017 - a retry loop
            assert time.monotonic() < deadline, emulator.log()[-3000:]
            time.sleep(0.3)
    refused = error_of(lambda: invoke(runtime, small, None))
    assert "is missing a target model header" in refused["Error"]["Message"]


def test_cache_disabled_loads_every_time(smlocal, archives) -> None:
    sm = smlocal.client("sagemaker")
    runtime = smlocal.client("sagemaker-runtime", config=NO_RETRY)
    name = deploy_mme(sm, upload(smlocal, "mme-nocache", archives, {}), cache=False)
    container = sm.describe_model(ModelName=name)["PrimaryContainer"]
    assert container["MultiModelConfig"] == {"ModelCacheSetting": "Disabled"}
    for _ in range(2):
        assert invoke(runtime, name, "model-a.tar.gz").strip() == "2.0"
    log = "".join(p.read_text() for p in (smlocal.data_dir / "logs").rglob(f"*{name}*/**/*.log"))
    assert "loaded model" not in log  # never kept


@pytest.mark.skipif(
    not (Path(sys.executable).parent / "aws").exists(), reason="the AWS CLI is not installed"
)
def test_the_aws_cli_invokes_a_target_model(smlocal, archives, tmp_path) -> None:
    name = deploy_mme(smlocal.client("sagemaker"), upload(smlocal, "mme-cli", archives, {}))
    out = tmp_path / "answer.txt"
    command = [
        str(Path(sys.executable).parent / "aws"), "sagemaker-runtime", "invoke-endpoint",
        "--endpoint-name", name, "--target-model", "model-a.tar.gz",
        "--content-type", "text/csv", "--body", ROW.decode(), str(out), "--output", "json",
    ]  # fmt: skip
    done = subprocess.run(
        command,
        env={**os.environ, **smlocal.env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(done.stdout)["InvokedProductionVariant"] == "AllTraffic"
    assert out.read_text().strip() == "2.0"


def test_the_sdks_multi_data_model(smlocal_sagemaker_session, archives) -> None:
    from sagemaker.multidatamodel import MultiDataModel
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import CSVSerializer

    session = smlocal_sagemaker_session
    name = unique("sdk-mme")
    mme = MultiDataModel(
        name=name,
        model_data_prefix=f"s3://{session.default_bucket()}/{name}/models/",
        image_uri=XGBOOST_IMAGE,
        role=ROLE,
        sagemaker_session=session,
        predictor_cls=Predictor,  # else deploy returns None, as the SDK's notebooks show
    )
    predictor = mme.deploy(
        initial_instance_count=1,
        instance_type="ml.m5.large",
        endpoint_name=name,
        serializer=CSVSerializer(),
    )
    try:
        for key, path in archives.items():
            mme.add_model(model_data_source=str(path), model_data_path=key)
        assert sorted(mme.list_models()) == sorted(archives)
        answer = predictor.predict("7.7,3.0,6.1,2.3", target_model="model-a.tar.gz")
        assert answer.decode().strip() == "2.0"
        answer = predictor.predict("7.7,3.0,6.1,2.3", target_model="model-b.tar.gz")
        assert len(answer.decode().strip().split(",")) == 3
    finally:
        predictor.delete_endpoint()
