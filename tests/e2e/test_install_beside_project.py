"""smlocal installed from its wheel into a project that has its own `model_server/` and
`emulator/` packages: the project keeps its modules, smlocal keeps its own, in the CLI, in
the emulator's child processes (model servers included) and in the pytest plugin."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import train_iris_tar
from tests.support import ROOT

# The project's own test: it imports its model_server and emulator, and deploys an endpoint
# on the emulator the plugin starts (so a model server child runs from the project's folder).
PROJECT_TEST = """
import model_server
import emulator


def test_the_project_keeps_its_packages_and_smlocal_serves(smlocal):
    assert model_server.OWNER == "project" and emulator.OWNER == "project"
    import smlocal as package

    assert "project-venv" in package.__file__, package.__file__
    s3 = smlocal.client("s3")
    s3.create_bucket(Bucket="models")
    s3.upload_file("MODEL_TAR", "models", "iris/model.tar.gz")
    sm = smlocal.client("sagemaker")
    sm.create_model(
        ModelName="iris",
        PrimaryContainer={
            "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
            "ModelDataUrl": "s3://models/iris/model.tar.gz",
        },
        ExecutionRoleArn="arn:aws:iam::123456789012:role/local",
    )
    sm.create_endpoint_config(
        EndpointConfigName="iris",
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "iris",
                             "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}],
    )
    sm.create_endpoint(EndpointName="iris", EndpointConfigName="iris")
    sm.get_waiter("endpoint_in_service").wait(
        EndpointName="iris", WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
    answer = smlocal.client("sagemaker-runtime").invoke_endpoint(
        EndpointName="iris", ContentType="text/csv", Body=b"5.1,3.5,1.4,0.2"
    )
    assert answer["Body"].read() == b"0.0\\n"  # 1.7-1: a line per row
"""


def run(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "SMLOCAL_"))}
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """smlocal's wheel, built from this checkout as `pip wheel .` builds it."""
    out = tmp_path_factory.mktemp("wheel")
    built = run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--wheel-dir",
            str(out),
            str(ROOT),
        ],
        cwd=out,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    [path] = out.glob("smlocal-*.whl")
    return path


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A project folder with its own model_server/ and emulator/ packages, and a venv (inside
    it, as many projects keep theirs) where smlocal comes from the wheel alone.

    The venv sees this test run's third-party packages through a .pth line, so nothing is
    downloaded; a .pth line adds a folder without running the .pth files in it, so smlocal's
    own editable install stays out."""
    root = tmp_path_factory.mktemp("project")
    for name in ("model_server", "emulator"):
        (root / name).mkdir()
        (root / name / "__init__.py").write_text('OWNER = "project"\n')
    (root / "tests").mkdir()
    model = train_iris_tar(tmp_path_factory.mktemp("project-model"))
    test = PROJECT_TEST.replace("MODEL_TAR", str(model))
    (root / "tests" / "test_endpoint.py").write_text(textwrap.dedent(test))
    venv = root / "project-venv"
    made = run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=root)
    assert made.returncode == 0, made.stderr
    [ours] = (venv / "lib").glob("python3*/site-packages")
    (ours / "shared-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    installed = run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        cwd=root,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    return root


def test_the_cli_runs_from_a_project_with_packages_named_like_ours(project: Path) -> None:
    version = run([str(project / "project-venv" / "bin" / "smlocal"), "--version"], cwd=project)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("smlocal "), version.stdout
    # `python -m` puts the working folder first on sys.path: the project's emulator/ is there
    shown = run(
        [
            str(project / "project-venv" / "bin" / "python"),
            "-m",
            "smlocal.emulator.cli",
            "--version",
        ],
        cwd=project,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == version.stdout
    # the model server's own entry point, as a console script and as `python -m`
    for command in (["smlocal-serve"], ["python", "-m", "smlocal.model_server"]):
        usage = run(
            [str(project / "project-venv" / "bin" / command[0]), *command[1:], "--help"],
            cwd=project,
        )
        assert usage.returncode == 0, usage.stderr
        assert usage.stdout.startswith("usage: smlocal-serve"), usage.stdout


def test_the_plugin_and_its_children_serve_beside_the_projects_packages(project: Path) -> None:
    tested = run(
        [
            str(project / "project-venv" / "bin" / "python"),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests",
        ],
        cwd=project,
    )
    assert tested.returncode == 0, tested.stdout[-4000:] + tested.stderr[-2000:]
    assert "1 passed" in tested.stdout
