"""The pure parts of running user scripts: container paths, requirements, command lines."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from smlocal.emulator.jobs import sandbox
from smlocal.emulator.jobs.environments import requirements_hash
from smlocal.emulator.jobs.processing_io import JobFailed
from smlocal.emulator.jobs.processing_records import ProcessingJob
from smlocal.emulator.jobs.script_processing import command, requirements_of


def _job(**extra: object) -> ProcessingJob:
    return ProcessingJob.from_document({
        "ProcessingJobName": "j", "ProcessingJobArn": "arn", "CreationTime": 0,
        "LastModifiedTime": 0, "ProcessingStartTime": 0, "ProcessingJobStatus": "InProgress",
        "AppSpecification": {"ImageUri": "x"}, **extra,
    })  # fmt: skip


def test_container_paths_map_into_the_job_folder_and_nothing_else(tmp_path: Path) -> None:
    root = tmp_path / "opt/ml"
    assert sandbox.to_host(root, "/opt/ml/processing/input") == str(root / "processing/input")
    assert sandbox.to_host(root, "/opt/ml") == str(root)
    assert sandbox.to_host(root, "/opt/mlx/a") == "/opt/mlx/a"
    assert sandbox.to_host(root, "--ratio") == "--ratio"
    assert sandbox.to_host(root, "/opt/ml/../x") == "/opt/ml/../x"  # not under /opt/ml


def test_mapped_mode_rewrites_arguments_environment_and_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "isolation_available", lambda: False)
    root = tmp_path / "opt/ml"
    argv, env = sandbox.contained_command(
        root, ["python3", "/opt/ml/code/x.py", "--n", "1"], "/opt/ml/code", {"D": "/opt/ml/m"}
    )
    assert argv[-4:] == ["python3", str(root / "code/x.py"), "--n", "1"]
    assert argv[3] == str(root / "code")
    assert env == {"D": str(root / "m")}


def test_an_entrypoint_is_required_and_comes_before_the_arguments() -> None:
    job = _job(AppSpecification={"ImageUri": "img", "ContainerEntrypoint": ["python3", "a.py"],
                                 "ContainerArguments": ["--x", "1"]})  # fmt: skip
    assert command(job) == ["python3", "a.py", "--x", "1"]
    with pytest.raises(JobFailed, match="has no ContainerEntrypoint"):
        command(_job(AppSpecification={"ImageUri": "img"}))


def test_requirements_hash_is_per_content(tmp_path: Path) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("pandas\n")
    second.write_text("pandas\n")
    assert requirements_hash(first) == requirements_hash(second) != requirements_hash(None)
    second.write_text("numpy\n")
    assert requirements_hash(first) != requirements_hash(second)


def test_sourcedir_requirements_are_read_from_the_archive(tmp_path: Path) -> None:
    code = tmp_path / "opt/ml/processing/input/code"
    code.mkdir(parents=True)
    with tarfile.open(code / "sourcedir.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("requirements.txt")
        info.size = 7
        tar.addfile(info, io.BytesIO(b"pandas\n"))
    job = _job(ProcessingInputs=[{"InputName": "code", "S3Input": {
        "S3Uri": "s3://b/k", "LocalPath": "/opt/ml/processing/input/code"}}])  # fmt: skip
    found = requirements_of(job, tmp_path)
    assert found is not None
    assert found.read_text() == "pandas\n"


def test_hyperparameters_become_the_toolkit_s_arguments_and_variables() -> None:
    from smlocal.emulator.jobs.training.script_mode import (
        env_value,
        split_hyperparameters,
        to_cmd_args,
    )

    user, framework = split_hyperparameters({
        "sagemaker_program": '"train.py"', "n_estimators": "10", "C": "0.5",
        "name": '"abc"', "raw": "not json", "layers": "[1, 2]", "opts": '{"b": 2, "a": 1}',
    })  # fmt: skip
    assert framework == {"sagemaker_program": "train.py"}
    assert to_cmd_args(user) == [
        "-C", "0.5", "--layers", "[1, 2]", "--n_estimators", "10", "--name", "abc",
        "--opts", "a=1,b=2", "--raw", "not json",
    ]  # fmt: skip
    assert env_value(user["opts"]) == '{"a":1,"b":2}'
    assert env_value("abc") == "abc"
    assert env_value(None) == ""


def test_a_script_failure_reads_like_the_toolkit_s() -> None:
    from smlocal.emulator.jobs.training.script_mode import error_message, script_failure

    lines = ["loading", "Traceback (most recent call last):", '  File "train.py", line 3',
             "    raise KeyError('label')", "KeyError: 'label'", "KeyError: 'label'"]  # fmt: skip
    assert error_message(lines) == "raise KeyError('label')\n KeyError: 'label'"
    assert script_failure(1, "python train.py", lines) == (
        'AlgorithmError: ExecuteUserScriptError:\nExitCode 1\nErrorMessage "raise '
        "KeyError('label')\n KeyError: 'label'\"\nCommand \"python train.py\", exit code: 1"
    )
    assert error_message(["usage: train.py", "train.py: error: unrecognized arguments"]) == ""
    assert "OutOfMemory" in script_failure(137, "python train.py", [])


def test_scripts_aws_clients_point_at_the_emulator(tmp_path: Path) -> None:
    from smlocal.emulator.jobs.environments import ScriptHost
    from smlocal.emulator.settings import EmulatorSettings

    embedded = ScriptHost.from_settings(EmulatorSettings(port=4599, data_dir=tmp_path))
    assert embedded.aws["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4599"
    assert embedded.aws["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:4599"
    assert embedded.aws["AWS_ACCESS_KEY_ID"] == "test"
    assert embedded.cache == tmp_path.resolve() / "environments"
    external = EmulatorSettings(port=4599, s3_endpoint="http://127.0.0.1:9000")
    aws = ScriptHost.from_settings(external).aws
    assert aws["AWS_ENDPOINT_URL_S3"] == "http://127.0.0.1:9000"
    assert "AWS_ACCESS_KEY_ID" not in aws  # the emulator's environment's own
    off = EmulatorSettings.from_env({"SMLOCAL_SCRIPT_NAMESPACE": "false"})
    assert ScriptHost.from_settings(off).namespace is False
    with pytest.raises(ValueError, match="is not a boolean"):
        EmulatorSettings.from_env({"SMLOCAL_SCRIPT_NAMESPACE": "maybe"})
