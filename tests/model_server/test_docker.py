"""The model server image: its Dockerfile's contract, what it holds and installs, its layout
run without an engine, and (with an engine) a real container."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import os
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
import tomllib
from pathlib import Path
from typing import NamedTuple

import pytest
import requests
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.support import ROOT, ServerProcess, engine_answers, free_port, listening_socket

DOCKERFILE = ROOT / "model_server" / "Dockerfile"
LINUX = {"platform_system": "Linux", "sys_platform": "linux"}  # the image's platform
# what the image holds of smlocal: the model server, data capture, and the top package
COPIED = {
    "smlocal/__init__.py",
    "smlocal/cli_common.py",
    "smlocal/local_rules.py",
    "model_server",
    "capture_sink",
}
OTHER_PACKAGES = ("smlocal.emulator", "smlocal.model_monitor")


def instructions() -> list[tuple[str, str]]:
    lines = []
    for raw in DOCKERFILE.read_text().replace("\\\n", " ").splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            lines.append((keyword.upper(), rest.strip()))
    return lines


def only(keyword: str) -> str:
    [rest] = [rest for k, rest in instructions() if k == keyword]
    return rest


def environment() -> dict[str, str]:
    pairs = " ".join(rest for keyword, rest in instructions() if keyword == "ENV").split()
    return dict(pair.split("=", 1) for pair in pairs)


def copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of each COPY."""
    found = []
    for keyword, rest in instructions():
        if keyword == "COPY":
            *sources, dest = rest.split()
            found.append((sources, dest))
    return found


def test_the_dockerfile_follows_sagemakers_contract() -> None:
    found = instructions()
    assert json.loads(only("ENTRYPOINT")) == ["python", "-m", "smlocal.model_server"]
    assert json.loads(only("CMD")) == ["serve"]  # `docker run IMAGE serve` works, so does plain run
    assert ("EXPOSE", "8080") in found
    assert environment()["SMLOCAL_BIND_HOST"] == "0.0.0.0"  # inside a container, not loopback
    for sources, _dest in copies():
        for source in sources:
            assert (ROOT / source).exists(), f"COPY source {source} is missing"


def test_the_image_holds_the_model_server_and_data_capture_only() -> None:
    assert {source for sources, _dest in copies() for source in sources} == COPIED
    assert not any("pip install ." in rest for keyword, rest in instructions() if keyword == "RUN")


# -- what the image installs: just the libraries its code imports --------------------------


def module_file(name: str) -> Path | None:
    """The source file of one of smlocal's modules, or None (another library, or a name
    imported from a module rather than a module)."""
    parts = name.split(".")
    if parts[0] != "smlocal":
        return None
    base = ROOT.joinpath("smlocal", *parts[1:])
    for candidate in (base.parent / f"{base.name}.py", base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}: a relative import"
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}  # submodules?
    return found


def model_server_closure() -> tuple[set[str], set[str]]:
    """(smlocal's modules, other top-level imports) reachable from any model_server module."""
    todo = [f"smlocal.model_server.{'.'.join(p.relative_to(ROOT / 'model_server').with_suffix('').parts)}"
            for p in (ROOT / "model_server").rglob("*.py")]  # fmt: skip
    ours: set[str] = set()
    others: set[str] = set()
    while todo:
        name = todo.pop().removesuffix(".__init__")
        if name in ours:
            continue
        ours.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # parent packages load too
        path = module_file(name)
        assert path is not None, name
        for imported in imports(path):
            if imported.split(".")[0] != "smlocal":
                others.add(imported.split(".")[0])
            elif module_file(imported) is not None:
                todo.append(imported)
    return ours, {top for top in others if top not in sys.stdlib_module_names}


def installed() -> dict[str, Requirement]:
    """The requirements the image's `pip install` names, by distribution."""
    [command] = [rest for keyword, rest in instructions() if keyword == "RUN" and "pip" in rest]
    words = shlex.split(command.split("&&")[0])
    assert words[:2] == ["pip", "install"], words
    requirements = [Requirement(word) for word in words[2:] if not word.startswith("-")]
    return {canonicalize_name(r.name): r for r in requirements}


def declared() -> dict[str, Requirement]:
    """pyproject.toml's dependencies on the image's platform, by distribution."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [Requirement(line) for line in project["dependencies"]]
    return {
        canonicalize_name(r.name): r
        for r in requirements
        if r.marker is None or r.marker.evaluate(LINUX)
    }


def test_the_model_servers_code_reaches_neither_the_emulator_nor_model_monitor() -> None:
    ours, _ = model_server_closure()
    assert "smlocal.capture_sink.serving" in ours
    assert not [name for name in ours if name.startswith(OTHER_PACKAGES)]
    for name in ours:  # and the image holds every module it reaches
        where = module_file(name)
        assert where is not None
        source = where.resolve().relative_to(ROOT).as_posix()
        assert any(source == c or source.startswith(f"{c}/") for c in COPIED), source


def test_the_image_installs_just_the_libraries_its_code_imports_with_pyprojects_bounds() -> None:
    _, libraries = model_server_closure()
    distributions = importlib.metadata.packages_distributions()
    imported = set()
    for library in libraries:
        [distribution] = distributions[library]
        imported.add(canonicalize_name(distribution))
    wanted, known = installed(), declared()
    assert set(wanted) == imported
    for name, requirement in wanted.items():
        assert requirement.specifier == known[name].specifier, name
        assert requirement.marker is None, name
    assert not {"moto", "pandas", "pyarrow"} & set(wanted)


# -- the image's layout, run here: its files, its entry point, without what it lacks -------

# Run first (as sitecustomize) by every process of the layout: the libraries the image does
# not install, and smlocal's other packages, are not found, as in the image.
ABSENT_HOOK = """
import sys

ABSENT = {absent!r}


class Gate:  # one of the interpreter's finders, finding nothing of what the image lacks
    def __init__(self, finder):
        self.finder = finder

    def find_spec(self, name, path=None, target=None):
        if name in ABSENT or name.startswith(tuple(a + "." for a in ABSENT)):
            return None
        return self.finder.find_spec(name, path, target)

    def invalidate_caches(self):
        getattr(self.finder, "invalidate_caches", lambda: None)()


sys.meta_path[:] = [Gate(finder) for finder in sys.meta_path]
"""


def pulled_in(names: set[str]) -> set[str]:
    """The distributions `names` install, with everything they require (on the image's
    platform), as pip would."""
    todo, seen = list(names), set(names)
    while todo:
        requires = importlib.metadata.requires(todo.pop()) or []
        for requirement in map(Requirement, requires):
            name = canonicalize_name(requirement.name)
            wanted = requirement.marker is None or requirement.marker.evaluate(LINUX)
            if wanted and name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


def absent_modules() -> list[str]:
    """Top-level modules of the distributions pyproject installs and the image does not (a
    library pyproject names that an installed one requires, as Flask requires Jinja2, is
    in the image)."""
    left_out = set(declared()) - pulled_in(set(installed()))
    modules = [
        module
        for module, distributions in importlib.metadata.packages_distributions().items()
        if {canonicalize_name(d) for d in distributions} & left_out
    ]
    return sorted({*modules, *OTHER_PACKAGES})


class Layout(NamedTuple):
    """The image's files, copied here, and the environment that runs them."""

    workdir: Path
    env: dict[str, str]


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Layout:
    """The image's files (its COPY instructions, done here) and the environment that runs
    them; `python` is this interpreter, which cannot import what the image lacks."""
    root = tmp_path_factory.mktemp("image")
    for sources, dest in copies():
        target = root / dest
        for source in sources:
            where = target / Path(source).name if dest.endswith("/") else target
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, where, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                where.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(ROOT / source, where)
    assert environment()["PYTHONPATH"] == only("WORKDIR")  # the copied folder is importable
    hooks = tmp_path_factory.mktemp("absent")
    (hooks / "sitecustomize.py").write_text(ABSENT_HOOK.format(absent=absent_modules()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "SMLOCAL_"))}
    return Layout(root, {**env, "PYTHONPATH": f"{root}{os.pathsep}{hooks}"})


def entry(*args: str) -> list[str]:
    """The image's ENTRYPOINT with these arguments, run by this interpreter."""
    program, *rest = json.loads(only("ENTRYPOINT"))
    assert program == "python"
    return [sys.executable, *rest, *args]


def test_the_images_entry_point_runs_in_its_layout(image: Layout) -> None:
    shown = subprocess.run(
        entry(*json.loads(only("CMD")), "--help"),
        cwd=image.workdir, env=image.env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith("usage: smlocal-serve"), shown.stdout
    refused = subprocess.run(
        entry("train"), cwd=image.workdir, env=image.env, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode == 2
    assert "invalid choice: 'train' (choose from 'serve')" in refused.stderr


# A worker's app built as gunicorn builds it, with capture on (its uploads kept in a list),
# one invocation, the worker's exit (which uploads the capture file); then what was imported.
SERVE_ONE = """
import json, sys
from werkzeug.test import Client
import smlocal
from smlocal.capture_sink.serving import capture_from_env
from smlocal.model_server.environment import ServerSettings
from smlocal.model_server.serving import ModelServer

uploads = []
hooks = capture_from_env(put_factory=lambda: lambda where, body, kms: uploads.append(body))
server = ModelServer(ServerSettings.from_env(), hooks)
app = server.load()
server.state.load()
answer = Client(app).post("/invocations", data="7.7,3.0,6.1,2.3", content_type="text/csv")
hooks.worker_exit()
print(json.dumps({
    "answer": [answer.status_code, answer.get_data(as_text=True)],
    "captured": b"".join(uploads).count(b"\\n"),
    "smlocal": smlocal.__file__,
    "imported": sorted(name for name in sys.modules if name.startswith(ABSENT)),
}))
"""


def test_the_layout_serves_and_captures_without_the_emulator_model_monitor_moto_or_pandas(
    image: Layout, iris_softmax: Path, tmp_path: Path
) -> None:
    capture = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": "s3://captures/iris",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    }
    env = {
        **image.env,
        "SMLOCAL_MODEL_DIR": str(iris_softmax),
        "SMLOCAL_CAPTURE_CONFIG": json.dumps(capture),
        "SMLOCAL_ENDPOINT_NAME": "iris",
        "SMLOCAL_CAPTURE_SPOOL_DIR": str(tmp_path / "spool"),
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    absent = tuple(absent_modules())
    script = f"ABSENT = {absent!r}\n" + textwrap.dedent(SERVE_ONE)
    done = subprocess.run(
        [sys.executable, "-P", "-c", script],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["answer"] == [200, "2.0\n"]
    assert report["captured"] == 1
    assert report["smlocal"].startswith(str(image.workdir))
    assert report["imported"] == []
    assert {"moto", "pandas", "smlocal.emulator", "smlocal.model_monitor"} <= set(absent)


def test_the_layouts_entry_point_serves_a_model_with_gunicorn(
    image: Layout, iris_softmax: Path, tmp_path: Path
) -> None:
    sock = listening_socket()
    args = entry("serve", "--bind", f"fd://{sock.fileno()}", "--workers", "1",
                 "--model-dir", str(iris_softmax))  # fmt: skip
    server = ServerProcess(
        args,
        port=sock.getsockname()[1],
        log_path=tmp_path / "server.log",
        env=image.env,
        sockets=[sock],
        cwd=image.workdir,
    )
    with server:
        server.wait_ready()
        answer = requests.post(
            f"{server.url}/invocations",
            data="7.7,3.0,6.1,2.3",
            headers={"Content-Type": "text/csv"},
            timeout=10,
        )
        assert (answer.status_code, answer.text) == (200, "2.0\n")
    assert "not in the image" not in server.log()


# -- with an engine ---------------------------------------------------------------------


@pytest.mark.docker
def test_the_image_serves_a_mounted_model(iris_softmax: Path) -> None:
    reason = engine_answers()
    if reason:
        pytest.skip(reason)
    tag = "smlocal-model-server:test"
    subprocess.run(
        ["docker", "build", "-f", str(DOCKERFILE), "-t", tag, str(ROOT)], check=True, timeout=1200
    )
    port = free_port()
    container = subprocess.run(
        [
            "docker",
            "run",
            "-d",
            "--rm",
            "-p",
            f"127.0.0.1:{port}:8080",
            "-v",
            f"{iris_softmax}:/opt/ml/model:ro",
            tag,
            "serve",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/ping", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        response = requests.post(
            f"http://127.0.0.1:{port}/invocations",
            data="7.7,3.0,6.1,2.3",
            headers={"Content-Type": "text/csv"},
            timeout=10,
        )
        assert response.text == "2.0\n"
    finally:
        subprocess.run(["docker", "stop", container], check=False, capture_output=True, timeout=60)
