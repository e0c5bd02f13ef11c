"""The Python a user's script runs with: a cached virtual environment per requirements.txt.

SageMaker's framework containers install a job's `requirements.txt` with pip before the
script starts. smlocal keeps one virtual environment per requirements hash under
`{data_dir}/environments/{hash}`, made once and reused by every later job with the same
requirements. Each environment sees the packages of the interpreter smlocal runs with (a
`.pth` file lists its site folders after the environment's own), so requirements that the
shared environment already satisfies install nothing and need no network. pip runs with
`--no-index` unless the job's environment sets `PIP_INDEX_URL` (smlocal sends no traffic
beyond loopback on its own). The environment's `bin` holds `python`, `python3` and a `pip`
that runs this interpreter's pip inside it, which the SDK's `runproc.sh` calls.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import site
import subprocess
import sys
import threading
import venv
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from smlocal.emulator.settings import EmulatorSettings
from smlocal.emulator.support.clients import aws_environment

_LOCK = threading.Lock()
PIP_SHIM = '#!/bin/sh\nexec "$(dirname "$0")/python" -m pip "$@"\n'


@dataclass(frozen=True)
class ScriptHost:
    """How this emulator runs users' scripts: the environments' cache folder, whether a
    mount namespace may be used, and the variables pointing the script's AWS clients here."""

    cache: Path
    namespace: bool = True
    aws: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: EmulatorSettings) -> ScriptHost:
        """The emulator's: `{data_dir}/environments`, SMLOCAL_SCRIPT_NAMESPACE, its edge."""
        cache = settings.data_dir.resolve() / "environments"
        return cls(cache, settings.script_namespace, aws_environment(settings))


class RequirementsFailed(Exception):
    """pip could not install the requirements: its exit status, command and output."""

    def __init__(self, returncode: int, command: str, output: str) -> None:
        super().__init__(f"pip exited with status {returncode}: {output[-600:]}")
        self.returncode = returncode
        self.command = command
        self.output = output


def requirements_hash(requirements: Path | None) -> str:
    """The cache key: the interpreter smlocal runs with and the requirements file's bytes
    (`base-...` without one), so a new interpreter gets new environments."""
    interpreter = f"{sys.executable}\n{platform.python_version()}\n".encode()
    if requirements is None or not requirements.is_file():
        return "base-" + hashlib.sha256(interpreter).hexdigest()[:12]
    return hashlib.sha256(interpreter + requirements.read_bytes()).hexdigest()[:16]


def parent_site_folders() -> list[str]:
    """The site folders of the interpreter smlocal runs with, which environments inherit."""
    folders = [*site.getsitepackages(), *[p for p in sys.path if p.endswith("site-packages")]]
    return list(dict.fromkeys(f for f in folders if os.path.isdir(f)))


def environment_bin(
    cache: Path, requirements: Path | None, job_env: Mapping[str, str] | None = None
) -> Path:
    """The `bin` folder of the environment for these requirements (made on first use)."""
    key = requirements_hash(requirements)
    home = cache / key
    ready = home / ".smlocal-ready"
    with _LOCK:
        if not ready.exists():
            shutil.rmtree(home, ignore_errors=True)
            _create(home)
            if not key.startswith("base-") and requirements is not None:
                _install(home, requirements, job_env or {})
            ready.write_text(key)
    return home / "bin"


def _create(home: Path) -> None:
    venv.EnvBuilder(with_pip=False, symlinks=True).create(home)
    python = home / "bin" / "python"
    found = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    purelib = Path(found.stdout.strip())
    purelib.mkdir(parents=True, exist_ok=True)
    (purelib / "_smlocal_parent.pth").write_text("\n".join(parent_site_folders()) + "\n")
    shim = home / "bin" / "pip"
    shim.write_text(PIP_SHIM)
    shim.chmod(0o755)


# What of a job's Environment smlocal's own pip sees: where to find packages, not where to
# put them (PIP_TARGET, PIP_PREFIX, PIP_USER, ... would make it write outside the cache).
PIP_SOURCES = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "PIP_FIND_LINKS",
               "PIP_PRE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")  # fmt: skip


def _install(home: Path, requirements: Path, job_env: Mapping[str, str]) -> None:
    job_env = {k: v for k, v in job_env.items() if k.upper() in PIP_SOURCES}
    offline = [] if job_env.get("PIP_INDEX_URL") else ["--no-index"]
    argv = [str(home / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    command = [*argv, *offline, "-r", str(requirements)]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
        cwd=requirements.parent,
        env={**os.environ, **job_env},
    )
    if done.returncode != 0:
        shutil.rmtree(home, ignore_errors=True)
        output = (done.stdout + done.stderr).strip()
        raise RequirementsFailed(done.returncode, " ".join(command), output)
