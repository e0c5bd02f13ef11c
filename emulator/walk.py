"""`smlocal demo`: the end-to-end walk, through the same AWS APIs a notebook calls.

Deploy (the example endpoint of `smlocal up --example`: SageMaker's iris XGBoost model with
every request captured), traffic (iris rows, some of them shifted), capture (flushed to S3),
baseline (a processing job of the Model Monitor analyzer on the iris rows), a monitoring
execution (a NOW schedule over the last hour of captures) and its report (an HTML page).

It talks to the emulator at --url (AWS_ENDPOINT_URL, else :4599) when one answers there, or
starts one for the walk (port 0, a fresh data directory it keeps) and stops it at the end.
Bounded: at most 500 invocations, all on loopback.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from smlocal.cli_common import DEFAULT_URL, CommandFailed, local_path, unreachable

ANALYZER = "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
ANALYZER_INPUT = "/opt/ml/processing/input/baseline_dataset_input"
OUTPUT = "/opt/ml/processing/output"
ENDPOINT_INPUT = "/opt/ml/processing/input/endpoint"
CLUSTER = {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}
STEPS = 6
MAX_INVOCATIONS = 500
STOP_SECONDS = 120.0  # the emulator's own shutdown, before it is killed
SHIFT_CM = 3.0  # added to the sepal length of the shifted requests
Row = tuple[int, list[float]]  # an iris flower: its class, its four measurements


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `demo` to the smlocal command line."""
    p = commands.add_parser(
        "demo",
        help="the end-to-end walk: deploy, traffic, capture, baseline, monitoring, report",
        description="Deploy the example endpoint with Data Capture, send it traffic, suggest a "
        "baseline, run a monitoring execution and write its HTML report, printing each step. "
        "Uses the emulator at --url when one answers there, else starts one for the walk.",
    )
    p.add_argument("--url", help="a running emulator (default: AWS_ENDPOINT_URL, else :4599)")
    p.add_argument(
        "--invocations", type=_invocations, default=200, help="requests to send (default 200)"
    )
    p.add_argument(
        "--output",
        type=local_path,
        default=Path("smlocal-demo-report.html"),
        help="the report page to write (default ./smlocal-demo-report.html)",
    )
    p.set_defaults(handler=demo_command)


def _invocations(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= MAX_INVOCATIONS:
        raise argparse.ArgumentTypeError(f"{text!r}: give 1 to {MAX_INVOCATIONS}")
    return int(text)


def _say(step: int, text: str) -> None:
    print(f"[{step}/{STEPS}] {text}", flush=True)


def demo_command(args: argparse.Namespace) -> int:
    """Walk through the steps, with the emulator at --url or one started for the walk."""
    given = args.url or os.environ.get("AWS_ENDPOINT_URL")
    url = (given or DEFAULT_URL).rstrip("/")
    if _healthy(url):
        print(f"using the emulator at {url}", flush=True)
        walk(url, args.invocations, args.output)
    elif given:
        raise CommandFailed(unreachable(url))
    else:
        with _own_emulator() as started:
            walk(started, args.invocations, args.output)
    return 0


def _healthy(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/_smlocal/health", timeout=3) as answer:
            return bool(json.load(answer).get("status") == "ready")
    except (OSError, ValueError):
        return False


@contextmanager
def _own_emulator() -> Iterator[str]:
    """`smlocal up` on a free port and a fresh data directory, stopped (SIGTERM) at the end."""
    data = Path(tempfile.mkdtemp(prefix="smlocal-demo-"))
    ready = data / "ready.json"
    command = [sys.executable, "-m", "smlocal.emulator.cli", "up", "--port", "0"]
    command += ["--data-dir", str(data / "data"), "--ready-file", str(ready)]
    with (data / "emulator.log").open("wb") as log:
        child = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:  # whatever ends the walk from here on (Ctrl-C too) stops it
        print(f"starting an emulator for the walk (data and log in {data})", flush=True)
        url = _wait_ready(child, ready, data / "emulator.log")
        print(f"emulator ready at {url}", flush=True)
        yield url
    finally:
        try:
            _stop(child)
        finally:
            print(f"emulator stopped; `smlocal up --data-dir {data / 'data'}` brings it back")


def _stop(child: subprocess.Popen[bytes], grace: float = STOP_SECONDS) -> None:
    """SIGTERM (the emulator stops its model servers and flushes captures), then SIGKILL if it
    is still running after `grace` seconds, or if the wait is cut short (a second Ctrl-C): it
    is never left running. Its model servers stop on their own once it is gone."""
    try:
        child.terminate()
        child.wait(grace)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    except BaseException:
        child.kill()
        child.wait()
        raise


def _wait_ready(child: subprocess.Popen[bytes], ready: Path, log: Path) -> str:
    deadline = time.monotonic() + 120
    while not ready.exists():
        if child.poll() is not None:
            lines = log.read_text(errors="replace").strip().splitlines()
            raise CommandFailed(f"the emulator did not start: {lines[-1] if lines else '?'}")
        if time.monotonic() > deadline:
            raise CommandFailed(f"the emulator did not start in 120 s; see {log}")
        time.sleep(0.1)
    return str(json.loads(ready.read_text())["url"])


def _clients(url: str) -> Callable[[str], Any]:
    """boto3 clients for the emulator; this process's default clients point there too (the
    report reads S3 with them)."""
    import boto3

    os.environ["AWS_ENDPOINT_URL"] = url
    if not (os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE")):
        os.environ.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    make: Callable[[str], Any] = boto3.client
    return make


def walk(url: str, invocations: int, output: Path) -> None:
    """The six steps against the emulator at url."""
    client = _clients(url)
    sm, s3 = client("sagemaker"), client("s3")
    rows = _iris_rows()
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    _deploy(sm, s3)
    runtime = client("sagemaker-runtime")
    _traffic(runtime, rows, invocations)
    _capture(url, s3)
    statistics, constraints = _baseline(sm, s3, rows, stamp)
    execution = _monitor(sm, statistics, constraints, stamp)
    _report(execution, statistics, constraints, output)


def _iris_rows() -> list[Row]:
    from sklearn.datasets import load_iris

    features, labels = load_iris(return_X_y=True)
    return [
        (int(label), [round(float(v), 1) for v in row])
        for label, row in zip(labels, features, strict=True)
    ]


def _deploy(sm: Any, s3: Any) -> None:
    from smlocal.emulator import demo  # the control plane: only when the walk runs

    try:
        status = sm.describe_endpoint(EndpointName=demo.ENDPOINT)["EndpointStatus"]
    except sm.exceptions.ClientError:
        status = None
    if status is None:
        _say(1, f"deploy: endpoint {demo.ENDPOINT} (SageMaker's XGBoost iris model, capture 100 %)")
        model_data = demo.upload_model(s3)
        # a model or config kept under the example's names when its endpoint was deleted
        with suppress(sm.exceptions.ClientError):
            sm.delete_model(ModelName=demo.model_request(model_data)["ModelName"])
        with suppress(sm.exceptions.ClientError):
            sm.delete_endpoint_config(EndpointConfigName=demo.ENDPOINT)
        sm.create_model(**demo.model_request(model_data))
        sm.create_endpoint_config(**demo.endpoint_config_request())
        sm.create_endpoint(**demo.endpoint_request())
    else:
        _say(1, f"deploy: endpoint {demo.ENDPOINT} exists ({status})")
    status = _poll(
        lambda: sm.describe_endpoint(EndpointName=demo.ENDPOINT)["EndpointStatus"],
        ("InService", "Failed"),
    )
    if status != "InService":
        raise CommandFailed(f"the endpoint {demo.ENDPOINT} is {status}; see its CloudWatch logs")
    print(f"      {demo.ENDPOINT} is InService", flush=True)


def _traffic(runtime: Any, rows: list[Row], invocations: int) -> None:
    """Iris rows measured a little less roughly (a column with few distinct values is not
    compared for drift), the last 40 % with a longer sepal."""
    from smlocal.emulator import demo  # the control plane: only when the walk runs

    shifted = invocations * 2 // 5
    _say(2, f"traffic: {invocations} invocations, {shifted} with sepal length +{SHIFT_CM:g} cm")
    noise = random.Random(0)
    counts: dict[str, int] = {}
    for i in range(invocations):
        row = [round(v + noise.uniform(-0.05, 0.05), 3) for v in rows[(i * 7) % len(rows)][1]]
        if i >= invocations - shifted:
            row[0] = round(row[0] + SHIFT_CM, 3)
        answer = runtime.invoke_endpoint(
            EndpointName=demo.ENDPOINT, ContentType="text/csv", Body=",".join(map(str, row))
        )
        label = answer["Body"].read().decode().strip()
        counts[label] = counts.get(label, 0) + 1
    print(f"      predicted classes: {dict(sorted(counts.items()))}", flush=True)


def _capture(url: str, s3: Any) -> None:
    from smlocal.capture_sink.cli import flush_endpoint
    from smlocal.capture_sink.listing import list_capture_files
    from smlocal.emulator import demo  # the control plane: only when the walk runs

    prefix = f"{demo.CAPTURE_URI}/{demo.ENDPOINT}/"
    flush_endpoint(url, demo.ENDPOINT)
    files = list_capture_files(prefix, s3_client=s3)
    records = sum(len(file.read().splitlines()) for file in files)
    _say(3, f"capture: {records} records in {len(files)} file(s) under {prefix}")


def _baseline(sm: Any, s3: Any, rows: list[Row], stamp: str) -> tuple[str, str]:
    """A baseline job on the iris rows, each with its class first (as the model answers it),
    laid out like the captures' rows."""
    from smlocal.emulator import demo  # the control plane: only when the walk runs

    dataset = "".join(f"{label:.1f},{','.join(map(str, row))}\n" for label, row in rows)
    key = f"demo/baseline-data/{stamp}/iris.csv"
    s3.put_object(Bucket=demo.BUCKET, Key=key, Body=dataset.encode())
    name = f"smlocal-demo-baseline-{stamp}"
    results = f"s3://{demo.BUCKET}/demo/baseline-results/{stamp}"
    _say(4, f"baseline: processing job {name} on s3://{demo.BUCKET}/{key}")
    sm.create_processing_job(**_baseline_job(name, f"s3://{demo.BUCKET}/{key}", results))
    job = _poll(
        lambda: sm.describe_processing_job(ProcessingJobName=name),
        ("Completed", "Failed", "Stopped"),
        status=lambda found: found["ProcessingJobStatus"],
    )
    if job["ProcessingJobStatus"] != "Completed":
        raise CommandFailed(f"the baseline job {name} failed: {job.get('FailureReason', '?')}")
    print(f"      {results}/statistics.json and constraints.json", flush=True)
    return f"{results}/statistics.json", f"{results}/constraints.json"


def _baseline_job(name: str, dataset: str, results: str) -> dict[str, Any]:
    """What DefaultModelMonitor.suggest_baseline sends (a CSV without a header: columns
    `_c0` (the answer) then `_c1`...`_c4`, as the captures' rows are named)."""
    from smlocal.emulator import demo  # the control plane: only when the walk runs

    header = {"csv": {"header": False, "output_columns_position": "START"}}
    return {
        "ProcessingJobName": name,
        "ProcessingInputs": [
            {
                "InputName": "baseline_dataset_input",
                "S3Input": {
                    "S3Uri": dataset,
                    "LocalPath": ANALYZER_INPUT,
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "monitoring_output",
                    "S3Output": {"S3Uri": results, "LocalPath": OUTPUT, "S3UploadMode": "EndOfJob"},
                }
            ]
        },
        "ProcessingResources": {"ClusterConfig": CLUSTER},
        "AppSpecification": {"ImageUri": ANALYZER},
        "Environment": {
            "dataset_format": json.dumps(header),
            "dataset_source": ANALYZER_INPUT,
            "output_path": OUTPUT,
            "publish_cloudwatch_metrics": "Disabled",
        },
        "RoleArn": demo.ROLE,
    }


def _monitor(sm: Any, statistics: str, constraints: str, stamp: str) -> str:
    """A NOW schedule over the last hour of captures; the execution's output folder."""
    from smlocal.emulator import demo  # the control plane: only when the walk runs

    schedule = f"smlocal-demo-{stamp}"
    reports = f"s3://{demo.BUCKET}/demo/monitoring-reports"
    _say(5, f"monitoring execution: schedule {schedule} (NOW, the last hour of captures)")
    definition = {
        "BaselineConfig": {
            "ConstraintsResource": {"S3Uri": constraints},
            "StatisticsResource": {"S3Uri": statistics},
        },
        "MonitoringInputs": [
            {"EndpointInput": {"EndpointName": demo.ENDPOINT, "LocalPath": ENDPOINT_INPUT}}
        ],
        "MonitoringOutputConfig": {
            "MonitoringOutputs": [{"S3Output": {"S3Uri": reports, "LocalPath": OUTPUT}}]
        },
        "MonitoringResources": {"ClusterConfig": CLUSTER},
        "MonitoringAppSpecification": {"ImageUri": ANALYZER},
        "RoleArn": demo.ROLE,
    }
    when = {
        "ScheduleExpression": "NOW",
        "DataAnalysisStartTime": "-PT1H",
        "DataAnalysisEndTime": "-PT0H",
    }
    sm.create_monitoring_schedule(
        MonitoringScheduleName=schedule,
        MonitoringScheduleConfig={"ScheduleConfig": when, "MonitoringJobDefinition": definition},
    )
    summary = _poll(
        lambda: sm.describe_monitoring_schedule(MonitoringScheduleName=schedule).get(
            "LastMonitoringExecutionSummary", {}
        ),
        ("Completed", "CompletedWithViolations", "Failed", "Stopped"),
        status=lambda found: found.get("MonitoringExecutionStatus"),
    )
    status = summary["MonitoringExecutionStatus"]
    if status not in ("Completed", "CompletedWithViolations"):
        reason = summary.get("FailureReason", "?")
        raise CommandFailed(f"the execution of {schedule} is {status}: {reason}")
    job = sm.describe_processing_job(ProcessingJobName=summary["ProcessingJobArn"].split("/")[-1])
    folder = str(job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"])
    folder = folder.rstrip("/")
    print(f"      {status}; its files are in {folder}/", flush=True)
    return folder


def _report(folder: str, statistics: str, constraints: str, output: Path) -> None:
    from smlocal.model_monitor.report import ReportSources, execution_info, read_text, render_report

    violations = json.loads(read_text(f"{folder}/constraint_violations.json"))["violations"]
    for entry in violations:
        print(f"      {entry['feature_name']}: {entry['description']}", flush=True)
    sources = ReportSources.from_execution(folder, statistics, constraints)
    page = render_report(sources, info=execution_info(folder))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(page, encoding="utf-8")
    _say(6, f"report: {output.resolve()} ({len(violations)} violation(s))")


def _poll(
    read: Callable[[], Any],
    done: tuple[str, ...],
    *,
    status: Callable[[Any], Any] = lambda found: found,
    timeout: float = 300.0,
) -> Any:
    """read() until its status is one of `done` (CommandFailed after timeout seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        found = read()
        if status(found) in done:
            return found
        if time.monotonic() > deadline:
            raise CommandFailed(f"still {status(found)} after {timeout:g} s")
        time.sleep(0.5)
