"""`smlocal demo` stops the emulator it started for the walk whatever happens: SIGTERM, and
SIGKILL when the emulator does not stop in time or the wait is cut short (a second Ctrl-C).
A real child process that ignores SIGTERM stands in for an emulator that hangs."""

from __future__ import annotations

import _thread
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from smlocal.emulator.walk import _stop

STUBBORN = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ignoring SIGTERM', flush=True)\n"
    "time.sleep(600)\n"
)


@pytest.fixture
def stubborn() -> Iterator[subprocess.Popen[bytes]]:
    """A child that ignores SIGTERM (killed at the end whatever the test did)."""
    child = subprocess.Popen([sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE)
    assert child.stdout is not None
    assert child.stdout.readline() == b"ignoring SIGTERM\n"  # its handler is in place
    yield child
    child.kill()
    child.wait()
    child.stdout.close()


def test_an_emulator_that_ignores_sigterm_is_killed_after_the_grace(stubborn) -> None:
    started = time.monotonic()
    _stop(stubborn, grace=0.5)
    assert stubborn.returncode == -signal.SIGKILL
    assert 0.5 <= time.monotonic() - started < 30


def test_ctrl_c_while_waiting_for_the_emulator_kills_it_and_is_raised(stubborn) -> None:
    # interrupt_main does nothing while SIGINT is ignored (a suite run in the background)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.3, _thread.interrupt_main)  # a second Ctrl-C, as Python sees it
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            _stop(stubborn, grace=60)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)
    assert stubborn.returncode == -signal.SIGKILL


def test_an_emulator_that_stops_is_not_killed() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    _stop(child, grace=30)
    assert child.returncode == -signal.SIGTERM
