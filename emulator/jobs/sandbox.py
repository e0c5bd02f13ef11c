"""Running a user's script so that it sees the container's `/opt/ml` in the job's own folder.

SageMaker's framework containers keep everything under `/opt/ml` (`/opt/ml/processing/...`,
`/opt/ml/model`, `/opt/ml/input/data/...`), and user scripts hard-code those paths. smlocal
runs the script on this machine, so it gives the script a view in which `/opt/ml` is the
job's folder, without touching the machine's own `/opt`:

- **isolated** (smlocal runs as root and `unshare` can make a mount namespace): the script
  runs in a private mount namespace where the job's folder is bind-mounted on `/opt/ml`.
  When `/opt/ml` does not exist on the machine, a tmpfs is laid over `/opt` in that
  namespace, every entry of the real `/opt` is bind-mounted back into it, and `/opt/ml` is
  made there. Nothing is mounted or created outside the namespace, which ends with the job.
- **mapped** (anything else): container paths in the command line and the environment are
  rewritten to the job's folder. Paths a script builds in its own code are not rewritten;
  docs/fidelity.md says so.
"""

from __future__ import annotations

import functools
import os
import posixpath
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

CONTAINER_ROOT = "/opt/ml"
HOST_OPT = ".host-opt"  # in the job's scratch folder: the real /opt, seen inside the namespace

# Runs as `sh -c SETUP sh ROOT SCRATCH CWD argv...` inside the new mount namespace.
_SETUP = r"""
set -e
root=$1; scratch=$2; cwd=$3; shift 3
if [ -d /opt/ml ]; then
    mount --bind "$root" /opt/ml
else
    mount --rbind /opt "$scratch"
    mount -t tmpfs -o mode=755 smlocal-opt /opt
    for entry in "$scratch"/* "$scratch"/.[!.]*; do
        [ -e "$entry" ] || [ -L "$entry" ] || continue
        name=${entry##*/}
        if [ -L "$entry" ]; then ln -s "$(readlink "$entry")" "/opt/$name"; continue; fi
        if [ -d "$entry" ]; then mkdir "/opt/$name"; else : > "/opt/$name"; fi
        mount --rbind "$entry" "/opt/$name"
    done
    mkdir /opt/ml
    mount --bind "$root" /opt/ml
fi
cd "$cwd"
exec "$@"
"""


@functools.cache
def isolation_available() -> bool:
    """True when a private mount namespace can be made here (root, `unshare`, /opt exists)."""
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0 or not os.path.isdir("/opt"):
        return False
    try:
        probe = subprocess.run(
            [unshare, "--mount", "--propagation", "private", "mount", "-t", "tmpfs", "x", "/opt"],
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return probe.returncode == 0


def mode(allowed: bool = True) -> str:
    """`isolated` or `mapped`: how scripts see /opt/ml here (`allowed`: the emulator's
    setting script_namespace, SMLOCAL_SCRIPT_NAMESPACE)."""
    return "isolated" if allowed and isolation_available() else "mapped"


def to_host(root: Path, value: str) -> str:
    """A container path under /opt/ml as the path in the job's folder; other text as is."""
    normalized = posixpath.normpath(value) if value.startswith(CONTAINER_ROOT) else value
    if normalized == CONTAINER_ROOT:
        return str(root)
    if normalized.startswith(CONTAINER_ROOT + "/"):
        return str(root / normalized[len(CONTAINER_ROOT) + 1 :])
    return value


def contained_command(
    root: Path, argv: Sequence[str], cwd: str, env: Mapping[str, str], namespace: bool = True
) -> tuple[list[str], dict[str, str]]:
    """The argv and environment that run `argv` in `cwd` (a container path) with `root` as
    /opt/ml: in a private mount namespace when allowed and possible, else with paths
    rewritten."""
    if mode(namespace) == "isolated":
        scratch = root.parent / f"{root.name}{HOST_OPT}"
        scratch.mkdir(parents=True, exist_ok=True)
        unshare = shutil.which("unshare") or "unshare"
        setup = [unshare, "--mount", "--propagation", "private", "/bin/sh", "-c", _SETUP, "sh"]
        return [*setup, str(root), str(scratch), cwd, *argv], dict(env)
    mapped_env = {key: to_host(root, value) for key, value in env.items()}
    mapped_argv = [to_host(root, arg) for arg in argv]
    mapped_cwd = to_host(root, cwd)
    return ["/bin/sh", "-c", 'cd "$0" && exec "$@"', mapped_cwd, *mapped_argv], mapped_env
