"""How the emulator starts Python children: its own interpreter, its own modules."""

from __future__ import annotations

import sys


def python_module(module: str, *args: str) -> list[str]:
    """argv running a module of ours with this interpreter.

    `-P` keeps the child's working folder off `sys.path`: a user who starts smlocal from a
    project with a folder named like one of ours must still get smlocal's modules.
    """
    return [sys.executable, "-P", "-m", module, *args]
