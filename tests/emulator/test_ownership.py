"""smlocal removes only what it created: a local model folder and its neighbours survive every
way an endpoint can stop (delete, update, failed deploy, rollback, shutdown, kill -9)."""

from __future__ import annotations

import hashlib
import signal
import tarfile
from pathlib import Path

import psutil
import pytest

from tests.support import create_config, deploy, unique, wait_for_status


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under folder (relative path -> sha256), so any change or loss shows."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def project(tmp_path: Path, iris_tar: Path) -> Path:
    """A user's project: an unpacked model folder next to files that are not smlocal's."""
    root = tmp_path / "project"
    (root / "model").mkdir(parents=True)
    with tarfile.open(iris_tar) as tar:
        tar.extractall(root / "model", filter="data")
    (root / "notes.txt").write_text("my notes")
    (root / "src").mkdir()
    (root / "src" / "train.py").write_text("print('train')\n")
    (root / "broken").mkdir()
    (root / "broken" / "README").write_text("a folder with no model in it\n")
    return root


def wait_gone(sm, name: str) -> None:
    import time

    deadline = time.monotonic() + 60
    while any(e["EndpointName"] == name for e in sm.list_endpoints()["Endpoints"]):
        assert time.monotonic() < deadline, f"{name} was never deleted"
        time.sleep(0.1)


def test_a_local_model_folder_and_its_neighbours_survive_every_stop_path(
    smlocal_factory, project: Path
) -> None:
    before = snapshot(project)
    emulator = smlocal_factory()
    sm = emulator.client("sagemaker")
    model = str(project / "model")

    # delete, with a path and with a file:// URL
    for data in (model, f"file://{model}"):
        name = unique("own-delete")
        described = deploy(sm, name, [{"name": "AllTraffic", "model_data": data}])
        assert described["EndpointStatus"] == "InService", described.get("FailureReason")
        sm.delete_endpoint(EndpointName=name)
        wait_gone(sm, name)
        assert snapshot(project) == before

    # update (the old fleet stops), then a rolled-back update (the new fleet fails)
    name = unique("own-update")
    deploy(sm, name, [{"name": "AllTraffic", "model_data": model}])
    second, broken = unique("own-second"), unique("own-broken")
    create_config(sm, f"file://{model}", second)
    create_config(sm, str(project / "broken"), broken)
    sm.update_endpoint(EndpointName=name, EndpointConfigName=second)
    assert wait_for_status(sm, name)["EndpointConfigName"] == second
    assert snapshot(project) == before
    sm.update_endpoint(EndpointName=name, EndpointConfigName=broken)
    rolled = wait_for_status(sm, name, ("InService",), timeout=120)
    while "PendingDeploymentSummary" in rolled:
        rolled = wait_for_status(sm, name, ("InService",))
    assert rolled["EndpointConfigName"] == second
    assert "rolled back" in rolled["FailureReason"]
    assert snapshot(project) == before

    # a failed deploy
    failed = unique("own-failed")
    sm.create_endpoint(EndpointName=failed, EndpointConfigName=broken)
    assert wait_for_status(sm, failed)["EndpointStatus"] == "Failed"
    assert snapshot(project) == before

    # stopping the emulator, starting it again (the endpoint comes back from the folder)
    emulator.restart()
    sm = emulator.client("sagemaker")
    assert wait_for_status(sm, name)["EndpointStatus"] == "InService"
    assert snapshot(project) == before

    # kill -9, then start: the leftovers of the dead run are swept, the user's files are not
    children = psutil.Process(emulator.proc.pid).children(recursive=True)
    emulator.proc.send_signal(signal.SIGKILL)
    emulator.proc.wait()
    psutil.wait_procs(children, timeout=30)
    emulator.start()
    sm = emulator.client("sagemaker")
    assert wait_for_status(sm, name)["EndpointStatus"] == "InService"
    sm.delete_endpoint(EndpointName=name)
    wait_gone(sm, name)
    assert snapshot(project) == before
    scratch = emulator.data_dir / "scratch"
    assert not scratch.exists() or not any(scratch.iterdir()), list(scratch.rglob("*"))[:5]


def test_scratch_refuses_to_remove_what_it_did_not_create(tmp_path: Path) -> None:
    from smlocal.emulator.support.scratch import NotOurs, Scratch

    scratch = Scratch(tmp_path / "data")
    mine = scratch.create("models", "ep", "AllTraffic")
    (mine / "model").mkdir()
    (mine / "model" / "xgboost-model").write_bytes(b"x")
    user = tmp_path / "user"
    user.mkdir()
    (user / "keep.txt").write_text("keep")
    inside_unmarked = tmp_path / "data" / "scratch" / "models" / "handmade"
    inside_unmarked.mkdir(parents=True)
    for foreign in (user, tmp_path, inside_unmarked, mine / "model", scratch.root):
        with pytest.raises(NotOurs):
            scratch.remove(foreign)
    link = tmp_path / "data" / "scratch" / "link"
    link.symlink_to(user)
    with pytest.raises(NotOurs):
        scratch.remove(link)
    assert (user / "keep.txt").read_text() == "keep"
    assert inside_unmarked.is_dir()
    scratch.remove(mine)
    assert not mine.exists()
    again = scratch.create("models", "ep", "AllTraffic")
    assert scratch.sweep() == 1
    assert not again.exists()
    assert inside_unmarked.is_dir()  # unmarked folders are left alone, even in scratch


def test_the_data_directory_smlocal_creates_is_private(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    import time

    data, ready = tmp_path / "new" / "data", tmp_path / "ready.json"
    previous = os.umask(0o022)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "smlocal.emulator.cli", "up", "--port", "0", "--data-dir", str(data),
             "--ready-file", str(ready)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    finally:
        os.umask(previous)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert data.stat().st_mode & 0o777 == 0o700
        assert (data / "state.db").stat().st_mode & 0o777 == 0o600
    finally:
        proc.terminate()
        proc.wait(60)


def test_a_second_emulator_on_the_same_data_directory_refuses_to_start(smlocal_factory) -> None:
    from smlocal.emulator.pytest_plugin import SmlocalEmulator

    first = smlocal_factory()
    second = SmlocalEmulator(first.data_dir)
    with pytest.raises(RuntimeError, match="exited with 1") as refused:
        second.start()
    assert f"is in use by another smlocal (pid {first.proc.pid})" in str(refused.value)
    assert first.client("sagemaker").list_models()["Models"] == []  # the first one carries on
