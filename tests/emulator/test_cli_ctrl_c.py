"""A Ctrl-C whose KeyboardInterrupt Python loses (raised inside a finalizer, where Python can
only print "Exception ignored in ...") still ends the command as an interruption, 130, when
the command then fails on what the same Ctrl-C stopped."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from smlocal.emulator import cli, walk


@pytest.fixture
def python_sigint() -> Iterator[None]:
    """SIGINT handled as a program started from a terminal has it (a test runner's worker may
    have it otherwise)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


class _SigintOnCollect:
    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # its KeyboardInterrupt is raised in here: lost


def _lost_ctrl_c_then_nothing_answers(url: str) -> bool:
    _SigintOnCollect()  # collected at once, so the Ctrl-C lands in its finalizer
    return False  # as after the Ctrl-C stopped the emulator the demo was using


# Python reports the lost KeyboardInterrupt as unraisable, as it does outside tests
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_lost_in_a_finalizer_still_ends_the_command_as_interrupted(
    python_sigint, monkeypatch, capsys
) -> None:
    monkeypatch.setattr(walk, "_healthy", _lost_ctrl_c_then_nothing_answers)
    status = cli.main(["demo", "--url", "http://127.0.0.1:9"])
    assert (status, capsys.readouterr().err.splitlines()[-1]) == (
        130,
        "smlocal demo: interrupted",
    )
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back


def test_without_a_ctrl_c_the_failure_is_its_own_line(python_sigint, monkeypatch, capsys) -> None:
    monkeypatch.setattr(walk, "_healthy", lambda url: False)
    status = cli.main(["demo", "--url", "http://127.0.0.1:9"])
    assert status == 1
    assert capsys.readouterr().err.startswith("smlocal demo: nothing answers at")
