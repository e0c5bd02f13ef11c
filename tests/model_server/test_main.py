"""`smlocal-serve` (`python -m smlocal.model_server`): `smlocal serve`'s options on their own,
after SageMaker's optional `serve`, with its exit statuses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from smlocal.emulator.cli import parser as smlocal_parser
from smlocal.model_server.cli import main, parser
from tests.support import ROOT

EVERY_OPTION = [
    "--model-dir", "model", "--model-data", "s3://bucket/model.tar.gz", "--host", "0.0.0.0",
    "--port", "9000", "--bind", "fd://3", "--also-bind", "unix:/tmp/m.sock", "--workers", "2",
    "--threads", "3",
    "--lenient-containers", "--example",
]  # fmt: skip


def test_it_takes_the_options_of_smlocal_serve() -> None:
    alone = vars(parser().parse_args(["serve", *EVERY_OPTION]))
    sub = vars(smlocal_parser().parse_args(["serve", *EVERY_OPTION]))
    assert alone.pop("mode") == "serve"
    assert (sub.pop("command"), sub.pop("handler").__name__) == ("serve", "serve")
    assert alone == sub
    assert vars(parser().parse_args(EVERY_OPTION)) == {**alone, "mode": None}  # `serve` optional


def test_python_m_runs_it() -> None:
    shown = subprocess.run(
        [sys.executable, "-P", "-m", "smlocal.model_server", "--help"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("usage: smlocal-serve"), shown.stdout
    assert "--model-dir" in shown.stdout


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train"], "argument serve: invalid choice: 'train' (choose from 'serve')"),
        (["--workers", "0"], "argument --workers: '0' is not a whole number of at least 1"),
        (
            ["--model-dir", "s3://b/m"],
            "argument --model-dir: s3://b/m is a URI; give a local path here",
        ),
    ],
)
def test_usage_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == f"smlocal-serve: error: {message}"


def test_a_bad_setting_exits_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SAGEMAKER_BIND_TO_PORT", "eighty")
    assert main(["serve", "--model-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        "smlocal-serve: SAGEMAKER_BIND_TO_PORT='eighty' is not an integer\n"
    )


def test_a_bad_capture_setting_exits_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SMLOCAL_CAPTURE_CONFIG", '{"EnableCapture": true}')
    assert main(["--model-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("smlocal-serve: SMLOCAL_CAPTURE_CONFIG: "), err
    assert len(err.splitlines()) == 1
