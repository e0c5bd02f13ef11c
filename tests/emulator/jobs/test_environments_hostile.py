"""The environment smlocal installs a job's requirements.txt into: the job's Environment
may point pip at an index, but not make smlocal's own pip write outside the cache."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

from smlocal.emulator.jobs.environments import environment_bin


def tiny_wheel(folder: Path) -> Path:
    """A one-module wheel, `smlocal_tiny`, built by hand (no index, no build backend)."""
    files = {
        "smlocal_tiny.py": b"VALUE = 1\n",
        "smlocal_tiny-0.1.dist-info/METADATA": b"Metadata-Version: 2.1\nName: smlocal-tiny\n"
        b"Version: 0.1\n",
        "smlocal_tiny-0.1.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: hand\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("smlocal_tiny-0.1.dist-info/RECORD,,")
    wheel = folder / "smlocal_tiny-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr("smlocal_tiny-0.1.dist-info/RECORD", "\n".join(record) + "\n")
    return wheel


def test_pip_location_variables_of_the_job_do_not_redirect_the_install(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    wheel = tiny_wheel(code)
    requirements = code / "requirements.txt"
    requirements.write_text(f"./{wheel.name}\n")
    outside = tmp_path / "users-own-folder"
    job_env = {"PIP_TARGET": str(outside), "PIP_INDEX_URL": "http://127.0.0.1:9/simple"}
    bin_folder = environment_bin(tmp_path / "cache", requirements, job_env)
    assert not outside.exists()
    site = list((bin_folder.parent / "lib").glob("python*/site-packages/smlocal_tiny.py"))
    assert len(site) == 1
