"""Script-mode training in the scikit-learn and XGBoost images: the user's entry point runs
as SageMaker's training toolkit (aws/sagemaker-training-toolkit) runs it.

The SDK's `SKLearn(entry_point=...)` and `XGBoost(entry_point=...)` upload
`sourcedir.tar.gz` and send the hyperparameters `sagemaker_program` and
`sagemaker_submit_directory` (JSON-encoded, like every value). The toolkit decodes each
hyperparameter as JSON (the raw string when it is not), keeps the `sagemaker_*` ones for
itself, untars the code into `/opt/ml/code`, installs its `requirements.txt`, and runs
`python {program} --key value ...` there (keys sorted, a one-letter key as `-k`), with the
`SM_*` environment. When the script exits non-zero the job fails with
`AlgorithmError: ExecuteUserScriptError:` followed by the exit code, the stderr from the
first line naming a Python error on, and the command.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from smlocal.emulator.jobs.environments import RequirementsFailed, ScriptHost, environment_bin
from smlocal.emulator.jobs.sandbox import contained_command
from smlocal.emulator.jobs.training.records import TrainingJob
from smlocal.emulator.jobs.training.workspace import JobFailure, Workspace, channel_config
from smlocal.emulator.support.clients import s3_location
from smlocal.model_server.artifacts import extract_archive

PROGRAM = "sagemaker_program"
SUBMIT_DIRECTORY = "sagemaker_submit_directory"
CODE_DIR = "/opt/ml/code"
HOST = "algo-1"
# The toolkit's names that start an error message (its _PYTHON_ERRORS_).
_ERROR_NAMES = re.compile(
    r"BaseException|Exception|\w*Error\b|Invalidrequirement|mpirun\.real|ORTE"
)


def is_script_mode(hyperparameters: Mapping[str, str] | None) -> bool:
    """True when the job runs a user's entry point (hyperparameter sagemaker_program)."""
    return PROGRAM in (hyperparameters or {})


def decode(value: str) -> Any:
    """A hyperparameter as the toolkit reads it: JSON when it parses, else the string."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def split_hyperparameters(raw: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the user's hyperparameters, the `sagemaker_*` ones), decoded."""
    decoded = {key: decode(value) for key, value in raw.items()}
    user = {k: v for k, v in decoded.items() if not k.startswith("sagemaker_")}
    framework = {k: v for k, v in decoded.items() if k.startswith("sagemaker_")}
    return user, framework


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def to_cmd_args(hyperparameters: Mapping[str, Any]) -> list[str]:
    """The command-line arguments: `--key value` by sorted key, `-k` for a one-letter key,
    a mapping as `a=1,b=2`, anything else as Python's str()."""
    args: list[str] = []
    for key in sorted(hyperparameters):
        value = hyperparameters[key]
        args.append(f"--{key}" if len(key) > 1 else f"-{key}")
        if isinstance(value, Mapping):
            args.append(",".join(f"{k}={v}" for k, v in sorted(value.items())))
        else:
            args.append(_text(value))
    return args


def env_value(value: Any) -> str:
    """An SM_* variable's value: a string as it is, anything else as compact sorted JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def training_environment(job: TrainingJob) -> dict[str, Any]:
    """What the toolkit knows of the job (SM_TRAINING_ENV), keyed as the toolkit keys it."""
    user, framework = split_hyperparameters(job.hyper_parameters or {})
    program = str(framework[PROGRAM])
    channels = sorted(channel["ChannelName"] for channel in job.channels)
    instance_type = str(job.resource_config.get("InstanceType", "local"))
    return {
        "hosts": [HOST],
        "network_interface_name": "eth0",
        "hps": user,
        "user_entry_point": program,
        "framework_params": {},
        "resource_config": {"current_host": HOST, "hosts": [HOST],
                            "network_interface_name": "eth0"},
        "input_data_config": _input_data_config(job),
        "output_data_dir": "/opt/ml/output/data",
        "channels": channels,
        "current_host": HOST,
        "current_instance_type": instance_type,
        "module_name": program[:-3] if program.endswith(".py") else program,
        "log_level": int(framework.get("sagemaker_container_log_level", 20)),
        "framework_module": None,
        "input_dir": "/opt/ml/input",
        "input_config_dir": "/opt/ml/input/config",
        "output_dir": "/opt/ml/output",
        "num_cpus": os.cpu_count() or 1,
        "num_gpus": 0,
        "num_neurons": 0,
        "model_dir": "/opt/ml/model",
        "module_dir": _text(framework.get(SUBMIT_DIRECTORY)),
        "user_args": to_cmd_args(user),
        "output_intermediate_dir": "/opt/ml/output/intermediate",
        "job_name": job.name,
        "is_master": True,
        "master_hostname": HOST,
    }  # fmt: skip


def _input_data_config(job: TrainingJob) -> dict[str, Any]:
    """inputdataconfig.json's content (SM_INPUT_DATA_CONFIG)."""
    mode = job.algorithm_specification.get("TrainingInputMode", "File")
    return {c["ChannelName"]: channel_config(c, mode) for c in job.channels}


def sm_environment(job: TrainingJob) -> dict[str, str]:
    """The SM_* variables the toolkit sets for the entry point."""
    env = training_environment(job)
    variables = {f"SM_{key.upper()}": env_value(value) for key, value in env.items()}
    variables["SM_TRAINING_ENV"] = env_value(env)
    for channel in env["channels"]:
        variables[f"SM_CHANNEL_{channel.upper()}"] = f"/opt/ml/input/data/{channel}"
    for key, value in env["hps"].items():
        variables[f"SM_HP_{key.upper()}"] = env_value(value)
    return variables


def fetch_code(s3: Any, job: TrainingJob, workspace: Workspace) -> Path:
    """sagemaker_submit_directory's archive untarred into code/ (the program's own folder)."""
    _, framework = split_hyperparameters(job.hyper_parameters or {})
    code = workspace.root / "code"
    shutil.rmtree(code, ignore_errors=True)
    uri = _text(framework.get(SUBMIT_DIRECTORY))
    if not uri.startswith("s3://"):
        raise JobFailure(
            f"ClientError: sagemaker_submit_directory {uri!r} is not an S3 URI of a "
            "sourcedir.tar.gz: smlocal reads the entry point's code from S3."
        )
    archive = workspace.root / "sourcedir.tar.gz"
    where = s3_location(uri)
    try:
        s3.download_file(where.bucket, where.key, str(archive))
        extract_archive(archive, code, source=uri)
    except Exception as exc:
        raise JobFailure(f"ClientError: Could not fetch the code at {uri}: {exc}") from None
    finally:
        archive.unlink(missing_ok=True)
    return code


def launch(
    s3: Any, job: TrainingJob, workspace: Workspace, host: ScriptHost
) -> tuple[list[str], dict[str, str], str]:
    """(argv, environment, command as the toolkit reports it) running the job's program."""
    code = fetch_code(s3, job, workspace)
    requirements = code / "requirements.txt"
    try:
        bin_folder = environment_bin(
            host.cache, requirements if requirements.is_file() else None, job.environment
        )
    except RequirementsFailed as exc:
        output = error_message(exc.output.splitlines()) or exc.output[-600:]
        raise JobFailure(
            f"AlgorithmError: InstallRequirementsError:\nExitCode {exc.returncode}\n"
            f'ErrorMessage "{output}"\nCommand "{exc.command}", exit code: {exc.returncode}'
        ) from None
    env = training_environment(job)
    argv = [str(bin_folder / "python"), str(env["user_entry_point"]), *env["user_args"]]
    variables = {
        **host.aws,
        **(job.environment or {}),
        **sm_environment(job),
        # set by SageMaker in every training container: `load_run()` finds its job by it
        "TRAINING_JOB_NAME": job.name,
        "TRAINING_JOB_ARN": job.arn,
        "PATH": f"{bin_folder}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
    }
    if "PIP_INDEX_URL" not in variables:
        variables.setdefault("PIP_NO_INDEX", "1")
    program, mapped = contained_command(workspace.root, argv, CODE_DIR, variables, host.namespace)
    return program, mapped, " ".join(argv)


def error_message(lines: Sequence[str]) -> str:
    """The toolkit's ErrorMessage: the output from the first line naming an error on, each
    line trimmed of spaces and colons, repeated lines once."""
    kept: list[str] = []
    for line in lines:
        if kept or _ERROR_NAMES.search(line):
            trimmed = line.strip(" :\n")
            if trimmed not in kept:
                kept.append(trimmed)
    return "\n ".join(kept).strip()


def script_failure(returncode: int, command: str, lines: Sequence[str]) -> str:
    """The FailureReason of a script that exited non-zero."""
    extra = ""
    if returncode in (137, -9):
        extra = '\nExtraInfo "OutOfMemory: Process killed by SIGKILL (signal 9)"'
    return (
        f"AlgorithmError: ExecuteUserScriptError:\nExitCode {returncode}\n"
        f'ErrorMessage "{error_message(lines)}"{extra}\nCommand "{command}", '
        f"exit code: {returncode}"
    )
