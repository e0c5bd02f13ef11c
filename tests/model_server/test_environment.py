"""Settings come from SageMaker's variables, parsed strictly."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from smlocal.model_server.environment import ServerSettings, SettingsError


def test_defaults_follow_the_container_contract() -> None:
    settings = ServerSettings.from_env({})
    assert settings.port == 8080
    assert settings.host == "127.0.0.1"
    assert settings.model_dir == Path("/opt/ml/model")
    assert settings.timeout == 60
    assert settings.max_payload_bytes == 6 * 1024 * 1024
    assert settings.bind_address == "127.0.0.1:8080"


def test_sagemaker_variables_are_honoured() -> None:
    settings = ServerSettings.from_env(
        {
            "SAGEMAKER_BIND_TO_PORT": "9001",
            "SAGEMAKER_BASE_DIR": "/srv/ml",
            "SAGEMAKER_MODEL_SERVER_WORKERS": "3",
            "SAGEMAKER_MODEL_SERVER_TIMEOUT": "120",
            "SAGEMAKER_PROGRAM": "inference.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": "s3://bucket/sourcedir.tar.gz",
            "SAGEMAKER_CONTAINER_LOG_LEVEL": "10",
            "SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT": "application/json",
            "SMLOCAL_BIND_HOST": "0.0.0.0",
        }
    )
    assert settings.bind_address == "0.0.0.0:9001"
    assert settings.model_dir == Path("/srv/ml/model")
    assert (settings.workers, settings.timeout) == (3, 120)
    assert settings.program == "inference.py"
    assert settings.submit_directory == "s3://bucket/sourcedir.tar.gz"
    assert settings.log_level == logging.DEBUG
    assert settings.default_accept == "application/json"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SAGEMAKER_BIND_TO_PORT": "eighty"}, "SAGEMAKER_BIND_TO_PORT='eighty' is not an integer"),
        (
            {"SAGEMAKER_MODEL_SERVER_WORKERS": "0"},
            "SAGEMAKER_MODEL_SERVER_WORKERS=0 must be at least 1",
        ),
        (
            {"SAGEMAKER_CONTAINER_LOG_LEVEL": "LOUD"},
            "SAGEMAKER_CONTAINER_LOG_LEVEL='LOUD' is not a logging level",
        ),
        ({"SMLOCAL_MAX_MODEL_BYTES": "10G"}, "SMLOCAL_MAX_MODEL_BYTES='10G' is not an integer"),
        ({"SMLOCAL_MAX_MODEL_BYTES": "0"}, "SMLOCAL_MAX_MODEL_BYTES=0 must be at least 1"),
        (
            {"SMLOCAL_LENIENT_CONTAINERS": "maybe"},
            "SMLOCAL_LENIENT_CONTAINERS='maybe' is not a boolean; use true or false",
        ),
    ],
)
def test_bad_values_say_which_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        ServerSettings.from_env(env)
    assert str(caught.value) == message


def test_the_model_size_cap_is_10_gib_unless_set() -> None:
    assert ServerSettings.from_env({}).max_model_bytes == 10 * 1024**3
    settings = ServerSettings.from_env({"SMLOCAL_MAX_MODEL_BYTES": "1048576"})
    assert settings.max_model_bytes == 1024 * 1024


@pytest.mark.parametrize(
    ("raw", "lenient"),
    [("", False), ("0", False), ("false", False), ("Off", False), ("1", True), ("on", True)],
)
def test_the_lenient_switch_is_a_strict_boolean(raw: str, lenient: bool) -> None:
    assert ServerSettings.from_env({"SMLOCAL_LENIENT_CONTAINERS": raw}).lenient is lenient
