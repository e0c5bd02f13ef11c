"""The SageMaker Python SDK v3 against smlocal: train, deploy with capture, invoke, monitor.

Part of `make test` (`SMLOCAL_SDK_V3=0` skips it). v3 (`sagemaker>=3,<4` with
sagemaker-core, -train, -serve, -mlops, and mlflow, pyarrow, scipy, ...) cannot share
smlocal's venv, which holds v2, so the test builds a venv of its own, once, under
~/.cache/smlocal-tests/sdk-v3-<hash of the requirements>. That install takes 0.96 GB and,
on this 2-core machine, 330 s with a cold pip cache (126 s with pip's downloads cached);
under pytest-xdist the other workers run the rest of the suite meanwhile. Later runs reuse
it (`SMLOCAL_SDK_V3_CACHE` moves the cache); the flow itself takes about 30 s.

tests/e2e/sdk_v3_flow.py runs in that venv against an emulator of its own, pointed at it
by the environment only, with every sleep of the SDK cut short there (the harness).
Outbound traffic goes to a closed proxy port, so a call that does not honour
AWS_ENDPOINT_URL fails the flow instead of reaching AWS.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smlocal.emulator.pytest_plugin import SDK_CONFIG

REQUIREMENTS = "sagemaker>=3,<4\n"
FLOW = Path(__file__).with_name("sdk_v3_flow.py")
INSTALL_TIMEOUT = 1800
READY = "installed.json"

pytestmark = [
    pytest.mark.skipif(
        os.environ.get("SMLOCAL_SDK_V3") == "0", reason="SMLOCAL_SDK_V3=0 skips SDK v3's flows"
    ),
    pytest.mark.timeout(INSTALL_TIMEOUT + 900),  # the first run installs v3's venv
]


def cache_root() -> Path:
    return Path(os.environ.get("SMLOCAL_SDK_V3_CACHE", Path.home() / ".cache" / "smlocal-tests"))


@pytest.fixture(scope="session")
def sdk_v3_python() -> Path:
    """The venv's interpreter, built the first time (its install time and size recorded);
    a lock keeps two test sessions from building it at once."""
    digest = hashlib.sha256(REQUIREMENTS.encode()).hexdigest()[:12]
    venv = cache_root() / f"sdk-v3-{digest}"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"sdk-v3-{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / READY).exists():
            build_venv(venv)
    return venv / "bin" / "python"


def build_venv(venv: Path) -> None:
    shutil.rmtree(venv, ignore_errors=True)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(venv)], check=True, timeout=300)
    (venv / "requirements.txt").write_text(REQUIREMENTS)
    started = time.monotonic()
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
         "--disable-pip-version-check", "-r", str(venv / "requirements.txt")],
        check=True, timeout=INSTALL_TIMEOUT,
    )  # fmt: skip
    seconds = time.monotonic() - started
    size = sum(p.stat().st_size for p in venv.rglob("*") if p.is_file() and not p.is_symlink())
    (venv / READY).write_text(json.dumps({"seconds": round(seconds), "bytes": size}))


def iris_files(folder: Path) -> None:
    """train.csv and validation.csv (label first), baseline.csv (features only)."""
    from sklearn.datasets import load_iris

    features, labels = load_iris(return_X_y=True)
    lines = [
        ",".join([str(int(label)), *(f"{value:g}" for value in row)])
        for row, label in zip(features, labels, strict=True)
    ]
    (folder / "train.csv").write_text("\n".join(x for i, x in enumerate(lines) if i % 3) + "\n")
    validation = "\n".join(x for i, x in enumerate(lines) if i % 3 == 0)
    (folder / "validation.csv").write_text(validation + "\n")
    (folder / "baseline.csv").write_text("\n".join(x.split(",", 1)[1] for x in lines) + "\n")


def test_train_deploy_capture_and_monitor_with_sdk_v3(sdk_v3_python, smlocal_factory, tmp_path):
    emulator = smlocal_factory()
    emulator.client("s3").create_bucket(Bucket="smlocal-sdk-v3")
    iris_files(tmp_path)
    config = tmp_path / "sagemaker-config.json"  # YAML is a superset of JSON
    config.write_text(json.dumps(SDK_CONFIG))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SAGEMAKER_"))},
        **emulator.env,
        "SAGEMAKER_USER_CONFIG_OVERRIDE": str(config),
        "HTTP_PROXY": "http://127.0.0.1:9",
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    result_file = tmp_path / "result.json"
    run = subprocess.run(
        [str(sdk_v3_python), str(FLOW), str(tmp_path), str(result_file)],
        check=False, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-5000:]
    result = json.loads(result_file.read_text())
    assert "error" not in result, result["error"] + "\n" + emulator.log()[-3000:]
    assert result["stages"] == [
        "session", "train", "deploy", "invoke", "capture", "baseline", "schedule", "monitor",
        "core-deploy", "core-monitor", "clean-up",
    ]  # fmt: skip

    job = result["training_job"]
    assert job["status"] == "Completed"
    assert job["model_artifacts"] == (
        f"s3://smlocal-sdk-v3/output/{job['name']}/output/model.tar.gz"
    )
    # TrainingJob.wait(logs=True) read the job's CloudWatch stream, as in AWS
    log = result["training_log"]
    assert any(
        re.search(r"\n\[1\]#011train-merror:\d\.\d{5}#011validation-merror", line) for line in log
    )
    assert log[-1] == "Final Resource Status: [bold]Completed"
    assert result["endpoint"] == {"name": "sdk-v3-iris", "status": "InService"}
    assert result["predictions"] == ["0.0\n", "1.0\n", "2.0\n"]

    assert result["data_capture"] == {
        "enable_capture": True,
        "destination": "s3://smlocal-sdk-v3/datacapture",
        "current_sampling_percentage": 100,
    }
    assert result["captured_inputs"] == ["5.1,3.5,1.4,0.2", "6.2,2.9,4.3,1.3", "7.7,3.0,6.1,2.3"]
    assert all(
        key.startswith("datacapture/sdk-v3-iris/AllTraffic/") for key in result["capture_keys"]
    )

    assert result["baseline_features"] == ["_c0", "_c1", "_c2", "_c3"]
    assert result["constraint_features"] == ["_c0", "_c1", "_c2", "_c3"]
    execution = result["execution"]
    assert execution["processing_job_status"] == "Completed"
    assert execution["status"] in ("Completed", "CompletedWithViolations")
    assert execution["exit_message"].startswith(execution["status"])
    assert re.fullmatch(
        r"s3://smlocal-sdk-v3/reports/sdk-v3-iris/sdk-v3-data-quality/\d{4}/\d\d/\d\d/\d\d",
        execution["report_uri"],
    )
    assert result["schedule"] == {
        "status": "Scheduled",
        "type": "DataQuality",
        "last_execution": execution["status"],
    }

    # the same through sagemaker-core's resources: Model, EndpointConfig with capture,
    # Endpoint; DataQualityJobDefinition and a NOW MonitoringSchedule
    assert result["core_endpoint"] == {
        "status": "InService",
        "predictions": ["0.0\n", "1.0\n", "2.0\n"],
    }
    core = result["core_schedule"]
    assert core["status"] == "Scheduled"
    assert core["last_execution"] in ("Completed", "CompletedWithViolations")
    assert core["definition"] == (
        "arn:aws:sagemaker:us-east-1:123456789012:data-quality-job-definition/"
        "sdk-v3-core-data-quality"
    )
    # deleted through DefaultModelMonitor and the resources' delete(): nothing is left
    assert result["left"] == {"endpoints": [], "schedules": [], "models": []}
