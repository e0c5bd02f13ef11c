"""`make run`'s snippet turns the SageMaker SDK's telemetry off (issue 10, item 8)."""

from __future__ import annotations

import re

from smlocal.emulator.demo import snippet, write_sdk_config


def test_the_snippet_points_the_sdk_at_a_config_that_opts_out_of_telemetry(
    tmp_path, monkeypatch
) -> None:
    from sagemaker.config import load_sagemaker_config

    path = write_sdk_config(tmp_path)
    text = snippet("http://127.0.0.1:4599", "us-east-1", 5, path)
    exported = re.search(r"^export SAGEMAKER_USER_CONFIG_OVERRIDE=(\S+)$", text, re.MULTILINE)
    assert exported is not None
    assert exported.group(1) == str(path)
    monkeypatch.setenv("SAGEMAKER_USER_CONFIG_OVERRIDE", exported.group(1))
    loaded = load_sagemaker_config()
    assert loaded["SageMaker"]["PythonSDK"]["Modules"]["TelemetryOptOut"] is True
    assert "smlocal captures flush iris-example" in text
