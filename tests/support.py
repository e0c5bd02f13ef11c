"""Test helpers: real servers as child processes on loopback, with deadlines and clean stops."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType

import psutil

ROOT = Path(__file__).resolve().parents[1]
SMLOCAL = [sys.executable, "-m", "smlocal.emulator.cli"]


def listening_socket() -> socket.socket:
    """A socket bound to a free loopback port and listening, to hand to a child as an fd."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def free_port() -> int:
    """A port that was free a moment ago (prefer listening_socket where a child can take an fd)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port where connections are refused for the whole `with` block.

    The socket is bound and held but never listens: on Linux a connect to it gets
    ECONNREFUSED, and while it is held no one else can bind the port (without SO_REUSEADDR
    here, SO_REUSEADDR elsewhere does not help) nor get it as an ephemeral port, unlike a
    `free_port()` that another test may take meanwhile."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """The status of a GET, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, urllib.error.URLError):
        return None


class ServerProcess:
    """A child process serving HTTP; waits until ready, stops with SIGTERM then SIGKILL."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        port: int,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        sockets: Sequence[socket.socket] = (),
        cwd: Path = ROOT,
    ) -> None:
        self.args = list(args)
        self.port = port
        self.log_path = log_path
        self.env = {**os.environ, **(env or {})}
        self.sockets = list(sockets)  # handed to the child as fds, closed here once it has them
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        """The child's pid."""
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> ServerProcess:
        """Start the child (in its own process group, so a stop reaches its children)."""
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it until stop()
        self.proc = subprocess.Popen(
            self.args,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.cwd,
            pass_fds=[s.fileno() for s in self.sockets],
            start_new_session=True,
        )
        log.close()
        for sock in self.sockets:
            sock.close()  # only the child listens now: a dead child means refused connections
        return self

    def wait_ready(self, path: str = "/ping", status: int = 200, timeout: float = 60) -> None:
        """Poll GET path until it answers `status`; fail with the log if it never does."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            last = http_status(self.url + path)
            if last == status:
                return
            time.sleep(0.05)
        raise TimeoutError(f"{self.url}{path} answered {last} for {timeout}s:\n{self.log()}")

    @property
    def alive(self) -> bool:
        """True while the child runs."""
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        """Everything the child wrote so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM the process group, then SIGKILL what is left; return the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(10)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _exc: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.stop()


def model_server(
    model_dir: Path | None,
    log_path: Path,
    *,
    env: Mapping[str, str] | None = None,
    workers: int = 1,
    extra_args: Sequence[str] = (),
) -> ServerProcess:
    """`smlocal serve` on a pre-bound loopback socket (no port race), not yet started."""
    sock = listening_socket()
    port = sock.getsockname()[1]
    args = [*SMLOCAL, "serve", "--bind", f"fd://{sock.fileno()}", "--workers", str(workers)]
    if model_dir is not None:
        args += ["--model-dir", str(model_dir)]
    return ServerProcess(
        [*args, *extra_args], port=port, log_path=log_path, env=env, sockets=[sock]
    )


# Debian's Chromium for browser tests (Playwright drives it; its own downloads are not used),
# with the flags that keep it off the network.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def unique(prefix: str) -> str:
    """A fresh resource name (tests share one emulator)."""
    import uuid

    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_for_status(
    sm: object, name: str, wanted: tuple[str, ...] = ("InService", "Failed"), timeout: float = 120
) -> dict:
    """Poll DescribeEndpoint until its status is one of `wanted`; return the description."""
    deadline = time.monotonic() + timeout
    while True:
        described = sm.describe_endpoint(EndpointName=name)  # type: ignore[attr-defined]
        if described["EndpointStatus"] in wanted:
            return described  # type: ignore[no-any-return]
        if time.monotonic() > deadline:
            raise TimeoutError(f"endpoint {name} stayed {described['EndpointStatus']}")
        time.sleep(0.1)


def create_config(
    sm: object, model_data: str, name: str | None = None, variants: int = 1, image: str = ""
) -> str:
    """A model and an endpoint config of `variants` variants serving it (named V0, V1, ...,
    or AllTraffic for one); return the config's name (also the model's)."""
    name = name or unique("cfg")
    sm.create_model(  # type: ignore[attr-defined]
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": image or XGBOOST_IMAGE, "ModelDataUrl": model_data},
    )
    sm.create_endpoint_config(  # type: ignore[attr-defined]
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic" if variants == 1 else f"V{i}",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
            for i in range(variants)
        ],
    )
    return name


def deploy(
    sm: object,
    name: str,
    variants: list[dict[str, object]],
    *,
    capture: dict[str, object] | None = None,
    wait: bool = True,
) -> dict:
    """CreateModel per variant, CreateEndpointConfig, CreateEndpoint; wait unless told not to.

    Each variant: {"name", "model_data", optional "image", "weight", "count", "env"}.
    """
    production = []
    for v in variants:
        model = unique(f"{name}-{v['name']}".lower())[:63]
        sm.create_model(  # type: ignore[attr-defined]
            ModelName=model,
            ExecutionRoleArn=ROLE,
            PrimaryContainer={
                "Image": v.get("image", XGBOOST_IMAGE),
                "ModelDataUrl": v["model_data"],
                "Environment": v.get("env", {}),
            },
        )
        production.append(
            {
                "VariantName": v["name"],
                "ModelName": model,
                "InitialInstanceCount": v.get("count", 1),
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": v.get("weight", 1.0),
                **({"RoutingConfig": {"RoutingStrategy": v["routing"]}} if "routing" in v else {}),
            }
        )
    config: dict[str, object] = {"EndpointConfigName": name, "ProductionVariants": production}
    if capture is not None:
        config["DataCaptureConfig"] = capture
    sm.create_endpoint_config(**config)  # type: ignore[attr-defined]
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)  # type: ignore[attr-defined]
    return wait_for_status(sm, name) if wait else {}


def engine_answers() -> str | None:
    """None when a Docker engine answers, else why not."""
    if shutil.which("docker") is None:
        return "the docker client is not installed"
    probe = subprocess.run(
        ["docker", "info"], check=False, capture_output=True, text=True, timeout=30
    )
    if probe.returncode != 0:
        return "no Docker engine answers (`docker info` failed)"
    return None


# What the SageMaker SDK's SKLearnModel deploys: the model plus code/inference.py with a
# model_fn (the scikit-learn container has no default one), named by these variables.
SKLEARN_MODEL_FN = (
    "import os\n\nimport joblib\n\n\n"
    "def model_fn(model_dir):\n"
    '    return joblib.load(os.path.join(model_dir, "model.joblib"))\n'
)
SKLEARN_SCRIPT_ENV = {
    "SAGEMAKER_PROGRAM": "inference.py",
    "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
}


def add_sklearn_script(model_dir: Path, source: str = SKLEARN_MODEL_FN) -> Path:
    """Write code/inference.py (a model_fn loading model.joblib) into a model folder."""
    code = model_dir / "code"
    code.mkdir(exist_ok=True)
    script = code / "inference.py"
    script.write_text(source)
    return script


def sklearn_archive(model: object, script: str = SKLEARN_MODEL_FN) -> bytes:
    """A model.tar.gz as SKLearnModel packs it: model.joblib and code/inference.py (by default
    a model_fn loading it)."""
    import io
    import tarfile

    import joblib

    dumped = io.BytesIO()
    joblib.dump(model, dumped)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name, data in (
            ("model.joblib", dumped.getvalue()),
            ("code/inference.py", script.encode()),
        ):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return archive.getvalue()


def ended(processes: list[psutil.Process]) -> bool:
    """True once none of the processes runs: gone, or a zombie its new parent (init, once the
    emulator has exited) has not reaped yet, which psutil still counts as running."""
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            continue
    return True
