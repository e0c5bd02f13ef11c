"""Virtual environments for the serving comparisons' competitors, created once and cached.

Each competitor gets its own venv (made with `python -m venv`, filled with pinned packages
by its own pip) under ~/.cache/smlocal-bench/venvs/ ($XDG_CACHE_HOME is honoured), so its
dependencies never meet smlocal's. A venv counts as ready once its install finished (a
marker file) and its probe still imports; otherwise it is made again. A failed install
raises Unavailable with one line saying why, and the benchmark skips that competitor.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

INSTALL_SECONDS = 1800  # a cold install of MLServer's dependencies takes minutes
PROBE_SECONDS = 120
DONE = ".smlocal-bench-complete"  # written last: a venv without it is half made


class Unavailable(Exception):
    """The competitor cannot be installed or run here; the message says why, in one line."""


def xgboost_requirement() -> str:
    """The XGBoost smlocal runs, pinned; the CPU-only wheel where one is published.

    The plain `xgboost` wheel for Linux pulls ~700 MB of CUDA libraries; `xgboost-cpu` is
    the same module without them (published for Linux and Windows only).
    """
    for name in ("xgboost-cpu", "xgboost"):
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
        return f"{cpu_wheel()}=={version}"
    raise Unavailable("XGBoost is not installed in smlocal's own environment")


def cpu_wheel() -> str:
    """The name of XGBoost's distribution without CUDA on this platform."""
    return "xgboost" if platform.system() == "Darwin" else "xgboost-cpu"


@dataclass(frozen=True)
class Competitor:
    """A server to compare against, and what its venv needs."""

    name: str
    version: str
    packages: Sequence[str]  # installed with their dependencies, and smlocal's XGBoost
    no_deps: Sequence[str]  # installed without: they require plain `xgboost` (CUDA)
    probe: str  # Python that must run in the venv for it to count as ready
    xgboost: bool = True  # also install smlocal's XGBoost (the serving competitors need it)

    @property
    def folder(self) -> Path:
        """Where the venv lives; the name carries every pin, so a new pin is a new venv."""
        pins = "\n".join([*self.packages, *self.no_deps, *_xgboost(self)])
        digest = hashlib.sha256(pins.encode()).hexdigest()[:10]
        return cache_root() / f"{self.name}-{self.version}-{digest}"

    @property
    def python(self) -> Path:
        """The venv's interpreter."""
        return self.folder / "bin" / "python"

    def script(self, name: str) -> Path:
        """A console script the venv installed (mlflow, mlserver)."""
        return self.folder / "bin" / name


def _xgboost(competitor: Competitor) -> list[str]:
    return [xgboost_requirement()] if competitor.xgboost else []


def cache_root() -> Path:
    """~/.cache/smlocal-bench/venvs, or under $XDG_CACHE_HOME."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "smlocal-bench" / "venvs"


def venv_env(competitor: Competitor) -> dict[str, str]:
    """Environment variables for the venv's programs: its bin/ first on PATH, no other venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["VIRTUAL_ENV"] = str(competitor.folder)
    env["PATH"] = f"{competitor.folder / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def ready_python(competitor: Competitor, say: Callable[[str], None] = print) -> Path:
    """The competitor's venv interpreter, installing the venv first if it is not ready.

    Raises Unavailable (one line) when the install or the probe fails.
    """
    folder = competitor.folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with _locked(folder.with_name(folder.name + ".lock")):
        if (folder / DONE).exists() and _probe(competitor) is None:
            return competitor.python
        say(f"   installing {competitor.name} {competitor.version} into {folder} (once) ...")
        shutil.rmtree(folder, ignore_errors=True)
        try:
            _install(competitor)
        except Unavailable:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        (folder / DONE).write_text(_freeze(competitor))
    return competitor.python


def _install(competitor: Competitor) -> None:
    log = competitor.folder.with_name(competitor.folder.name + ".log")
    _run([sys.executable, "-m", "venv", str(competitor.folder)], "python -m venv", log)
    pip = [str(competitor.python), "-m", "pip", "install", "--no-input", "--progress-bar", "off"]
    _run([*pip, *competitor.packages, *_xgboost(competitor)], "pip install", log)
    if competitor.no_deps:
        _run([*pip, "--no-deps", *competitor.no_deps], "pip install --no-deps", log)
    failure = _probe(competitor)
    if failure is not None:
        raise Unavailable(f"{competitor.name} installed but does not import: {failure}")


def _run(command: list[str], what: str, log: Path) -> None:
    """Run an install step, its output appended to log; Unavailable with its last line."""
    with open(log, "a") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        try:
            done = subprocess.run(
                command, check=False, stdout=out, stderr=subprocess.STDOUT, timeout=INSTALL_SECONDS
            )
        except subprocess.TimeoutExpired:
            raise Unavailable(f"{what} took over {INSTALL_SECONDS} s (see {log})") from None
    if done.returncode != 0:
        raise Unavailable(f"{what} failed ({done.returncode}): {_last_error(log)} (see {log})")


def _last_error(log: Path) -> str:
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors or [line for line in lines if line] or ["no output"])[-1]


def _probe(competitor: Competitor) -> str | None:
    """None when the probe runs in the venv, else the last line of its error."""
    if not competitor.python.exists():
        return "no interpreter"
    try:
        done = subprocess.run(
            [str(competitor.python), "-c", competitor.probe],
            check=False,
            capture_output=True,
            text=True,
            timeout=PROBE_SECONDS,
            env=venv_env(competitor),
        )
    except subprocess.TimeoutExpired:
        return f"the probe took over {PROBE_SECONDS} s"
    if done.returncode == 0:
        return None
    return (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]


def _freeze(competitor: Competitor) -> str:
    done = subprocess.run(
        [str(competitor.python), "-m", "pip", "freeze"],
        check=False,
        capture_output=True,
        text=True,
    )
    return done.stdout


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on path: two benchmark runs never build one venv at once."""
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield
