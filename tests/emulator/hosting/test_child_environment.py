"""The environment contract between the emulator and its model servers: every SAGEMAKER_* and
SMLOCAL_* variable a model server reads is named in model_server/environment.py, and the
emulator sets them by those names, never by retyped literals."""

from __future__ import annotations

import ast
from pathlib import Path

from smlocal.capture_sink import settings as capture_settings
from smlocal.emulator.hosting.backends import VariantPlan, capture_environment
from smlocal.emulator.hosting.backends.docker import container_environment
from smlocal.emulator.hosting.backends.process import ProcessBackend
from smlocal.emulator.settings import EmulatorSettings
from smlocal.model_server import environment
from tests.support import ROOT

OURS = ("SAGEMAKER_", "SMLOCAL_")


def names(module: object) -> dict[str, str]:
    """The module's constants naming a variable: {constant: variable}."""
    return {
        key: value
        for key, value in vars(module).items()
        if key.startswith(OURS) and isinstance(value, str) and key == value
    }


CONTRACT = set(names(environment).values())


def test_the_contract_names_capture_sinks_variables_too() -> None:
    capture = names(capture_settings)
    assert capture, "capture_sink/settings.py names no SMLOCAL_* variable"
    assert set(capture.values()) <= CONTRACT
    assert {"SAGEMAKER_BIND_TO_PORT", "SMLOCAL_PARENT_PID", "SMLOCAL_CAPTURE_CONFIG"} <= CONTRACT


def plan() -> VariantPlan:
    return VariantPlan(
        endpoint="ep",
        variant="AllTraffic",
        image="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        model_data_url=None,
        environment={},
        instance_count=2,
        capture={"EnableCapture": True, "DestinationS3Uri": "s3://b/p"},
    )


def set_by_us(env: dict[str, str]) -> set[str]:
    return {key for key in env if key.startswith(OURS)}


def test_the_backends_set_only_variables_of_the_contract(tmp_path: Path) -> None:
    settings = EmulatorSettings(data_dir=tmp_path, capture_roll_seconds=1.0, env={"PATH": "/bin"})
    capture = capture_environment(settings, plan())
    process = ProcessBackend(settings).environment(plan())
    container = container_environment(settings, plan(), capture)
    assert {"SMLOCAL_CAPTURE_CONFIG", "SMLOCAL_CAPTURE_ROLL_SECONDS"} <= set(capture)
    assert {"SMLOCAL_PARENT_PID", "SMLOCAL_IMAGE", "SAGEMAKER_REGION"} <= set(process)
    assert {"SAGEMAKER_MODEL_SERVER_WORKERS", "SMLOCAL_IMAGE"} <= set(container)
    for env in (capture, process, container):
        assert set_by_us(env) <= CONTRACT, set_by_us(env) - CONTRACT


def test_no_emulator_module_retypes_a_variable_name_of_the_contract() -> None:
    retyped = []
    for path in sorted((ROOT / "emulator").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Constant) and node.value in CONTRACT:
                retyped.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value}")
    assert retyped == []
