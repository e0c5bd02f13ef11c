"""Ctrl-C on `smlocal demo` (SIGINT to its whole process group, as a terminal sends it) is one
line and exit status 130, whichever step it meets; nothing it started is left running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import SMLOCAL, http_status

# Ctrl-C as a terminal's foreground job gets it: a suite started in the background (`make test &`,
# nohup, some CI runners) has SIGINT ignored, and an ignored SIGINT is inherited across exec.
AS_FROM_A_TERMINAL = [
    sys.executable, "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execvp(sys.argv[1], sys.argv[1:])",
]  # fmt: skip


def alive_in_group(pgid: int) -> list[int]:
    """Processes of the group that have not exited (zombies awaiting a reaper do not count)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # it exited while we looked
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            alive.append(int(stat.parent.name))
    return alive


def wait_for_process(pgid: int, word: str) -> None:
    """Until a process of the group has `word` in its command line (60 s at most)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for pid in alive_in_group(pgid):
            try:
                if word in Path(f"/proc/{pid}/cmdline").read_text():
                    return
            except OSError:
                continue
        time.sleep(0.01)
    pytest.fail(f"no process of the demo ran {word!r}")


def interrupt_demo(
    *args: str, after: str, cwd: Path, running: str = ""
) -> subprocess.CompletedProcess[str]:
    """Run `smlocal demo` in a process group of its own; once it prints a line starting with
    `after` (and one of its processes runs `running`), SIGINT the group. Returns what it
    printed and its exit status."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SMLOCAL_"))}
    env.update(AWS_EC2_METADATA_DISABLED="true", TMPDIR=str(cwd), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [*AS_FROM_A_TERMINAL, *SMLOCAL, "demo", "--invocations", "20", *args],
        cwd=cwd, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    assert proc.stdout is not None
    printed = []
    for line in proc.stdout:
        printed.append(line)
        if line.startswith(after):
            if running:
                wait_for_process(proc.pid, running)
            os.killpg(proc.pid, signal.SIGINT)
            break
    else:
        pytest.fail(f"the demo ended before printing {after!r}:\n{''.join(printed)}")
    rest, stderr = proc.communicate(timeout=300)
    deadline = time.monotonic() + 60  # orphans of the group, if any, are reaped by then
    while alive_in_group(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert alive_in_group(proc.pid) == []
    return subprocess.CompletedProcess(proc.args, proc.returncode, "".join(printed) + rest, stderr)


@pytest.mark.parametrize(
    "after",
    ["starting an emulator", "emulator ready at", "[1/6] deploy:"],
    ids=["while-it-starts", "once-it-is-ready", "while-deploying"],
)
def test_ctrl_c_on_the_walk_with_its_own_emulator(after, tmp_path) -> None:
    if http_status("http://127.0.0.1:4599/_smlocal/health") is not None:
        pytest.skip("an emulator answers on :4599; the demo would use it")
    done = interrupt_demo(after=after, cwd=tmp_path)
    assert (done.returncode, done.stderr) == (130, "smlocal demo: interrupted\n"), done.stdout
    started = next(tmp_path.glob("smlocal-demo-*"))
    assert done.stdout.splitlines()[-1] == (
        f"emulator stopped; `smlocal up --data-dir {started / 'data'}` brings it back"
    )
    if after != "starting an emulator":  # one that is still starting may stop before it logs
        log = (started / "emulator.log").read_text()
        assert log.splitlines()[-1].endswith(" INFO smlocal: stopped"), log


def test_ctrl_c_on_the_walk_against_a_running_emulator(smlocal_factory, tmp_path) -> None:
    emulator = smlocal_factory()  # no example endpoint: the demo deploys it (trains the model)
    done = interrupt_demo(  # while the worker that trains the model is starting
        "--url",
        emulator.url,
        after="[1/6] deploy:",
        running="smlocal.model_server.example",
        cwd=tmp_path,
    )
    assert (done.returncode, done.stderr) == (130, "smlocal demo: interrupted\n"), done.stdout
    with open(emulator.data_dir / "ready.json") as ready:  # not the demo's: it serves on
        assert json.load(ready)["url"] == emulator.url
    assert http_status(f"{emulator.url}/_smlocal/health") == 200
