"""pytest fixtures for your own tests: a real emulator on a free port, and ready clients.

Installed with smlocal (entry point `pytest11`), so these fixtures are available in any
test suite:

    def test_my_endpoint(smlocal):
        sm = smlocal.client("sagemaker")
        ...

`smlocal` is one emulator for the whole session (`smlocal up` on a free loopback port, in
a temporary data directory); `smlocal_factory` starts more with their own settings;
`smlocal_sagemaker_session` is a SageMaker Python SDK session wired to it, with the SDK's
30-second status polls shortened and its telemetry off (in the test, never in the product);
`smlocal_flush_captures(endpoint)` (or `smlocal.flush_captures`) puts the endpoint's spooled
capture records into S3 before a test reads them; `smlocal.captures(endpoint)` flushes and
returns the endpoint's capture records as dicts; `smlocal.reset()` deletes what tests
created (endpoints and their model servers, configs, models, schedules, buckets, ...), so one
session emulator serves many tests cleanly.

Model servers answer as SageMaker's containers do, refusals included. A project whose tests
rely on smlocal's kinder behaviour (JSON for XGBoost, one CSV row for scikit-learn) opts in
with `smlocal_lenient_containers = true` in its pytest ini options, or
`pytest --smlocal-lenient-containers`; the `smlocal` emulator then runs with
`--lenient-containers`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from smlocal.emulator.support.interpreter import python_module
from smlocal.model_server.environment import SMLOCAL_CAPTURE_ROLL_SECONDS

if TYPE_CHECKING:
    import urllib.error

READY_TIMEOUT = 60.0
# Tests want captures in S3 within a second, not SageMaker's minute (override with env=).
TEST_ENVIRONMENT = {SMLOCAL_CAPTURE_ROLL_SECONDS: "1"}
# The SDK's own settings in tests: no telemetry calls to AWS (tests stay on loopback).
SDK_CONFIG = {
    "SchemaVersion": "1.0",
    "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}},
}
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
}


LENIENT_OPTION = "smlocal_lenient_containers"
LENIENT_HELP = (
    "start the smlocal fixture's emulator with --lenient-containers: model servers accept what "
    "SageMaker's containers refuse (JSON for XGBoost, one CSV row for scikit-learn)"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """The opt-in to lenient model servers: an ini option and a command-line flag."""
    parser.addini(LENIENT_OPTION, LENIENT_HELP, type="bool", default=False)
    parser.getgroup("smlocal").addoption(
        "--smlocal-lenient-containers", action="store_true", dest=LENIENT_OPTION, help=LENIENT_HELP
    )


def lenient_containers(config: pytest.Config) -> bool:
    """True when the command line or the ini file asks for lenient model servers."""
    return bool(config.getoption(LENIENT_OPTION) or config.getini(LENIENT_OPTION))


def _opted_in(config: pytest.Config) -> tuple[str, ...]:
    """The `smlocal up` arguments the project's options ask every emulator to start with."""
    return ("--lenient-containers",) if lenient_containers(config) else ()


def _read_ready(path: Path) -> dict[str, Any] | None:
    """The ready file's document, or None while it is missing or not whole yet (an emulator
    older than the atomic write may still be writing it)."""
    try:
        document = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return document if isinstance(document, dict) and "url" in document else None


class SmlocalEmulator:
    """One `smlocal up` process: start, restart on the same port and data, stop."""

    def __init__(
        self,
        data_dir: Path,
        env: Mapping[str, str] | None = None,
        port: int = 0,
        args: Sequence[str] = (),
    ) -> None:
        self.data_dir = data_dir
        self.extra_env = dict(env or {})
        self.args = tuple(args)  # `smlocal up` arguments of every start, restarts included
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    @property
    def env(self) -> dict[str, str]:
        """Variables that point any AWS client (boto3, the CLI, the SDK) at the emulator."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": self.url}

    def start(self, *extra_args: str) -> SmlocalEmulator:
        """Start and wait until /_smlocal/health is ready."""
        ready = self.data_dir / "ready.json"
        ready.unlink(missing_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "emulator.out", "ab")  # noqa: SIM115 - the child owns it
        args = [
            *python_module("smlocal.emulator.cli"), "up", "--port", str(self.port),
            "--data-dir", str(self.data_dir), "--ready-file", str(ready), *self.args,
            *extra_args,
        ]  # fmt: skip
        env = {**os.environ, **CREDENTIALS, **TEST_ENVIRONMENT, **self.extra_env}
        env.pop("AWS_ENDPOINT_URL", None)
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        deadline = time.monotonic() + READY_TIMEOUT
        while (document := _read_ready(ready)) is None:
            if self.proc.poll() is not None:
                raise RuntimeError(f"smlocal up exited with {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"smlocal up was not ready in {READY_TIMEOUT}s:\n{self.log()}")
            time.sleep(0.05)
        self.url = document["url"]
        self.port = int(self.url.rsplit(":", 1)[1])
        return self

    def stop(self, timeout: float = 90.0) -> int | None:
        """SIGTERM (model servers stop, captures are flushed), SIGKILL if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)

    def restart(self, *extra_args: str) -> SmlocalEmulator:
        """Stop and start again on the same port with the same data directory."""
        self.stop()
        return self.start(*extra_args)

    def log(self) -> str:
        """What the emulator printed."""
        path = self.data_dir / "emulator.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def client(self, service: str, **kwargs: Any) -> Any:
        """A boto3 client for a service, pointed at the emulator."""
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            **kwargs,
        )

    def flush_captures(self, endpoint: str) -> dict[str, Any]:
        """Upload the endpoint's spooled capture records to S3 now; return what was flushed.

        Raises botocore's ClientError with the emulator's error code and message:
        ValidationException for an unknown endpoint, InternalFailure when a model server
        could not get its records into S3 (the message says why, e.g. NoSuchBucket; the
        records stay spooled and are uploaded once S3 takes them). When the emulator does
        not answer, botocore's error naming the URL, as a boto3 call (captures(), reset())
        raises it: EndpointConnectionError (nothing listens), ConnectionClosedError (it
        closed the connection without an answer), ReadTimeoutError (no answer in 120 s)."""
        import urllib.error
        import urllib.parse
        import urllib.request

        name = urllib.parse.quote(endpoint, safe="")
        url = f"{self.url}/_smlocal/endpoints/{name}/capture/flush"
        request = urllib.request.Request(url, data=b"", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                answer: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise _client_error(exc, "FlushCaptures") from None
        except OSError as exc:  # URLError, or the connection lost while the answer was read
            raise _unanswered(exc, url) from None
        return answer

    def captures(self, endpoint: str, *, decode_base64: bool = False) -> list[dict[str, Any]]:
        """The endpoint's capture records, flushed first: SageMaker's JSON Lines records as
        dicts, from every capture file under the endpoint's current DataCaptureConfig
        destination (all variants), in inferenceTime order (whole seconds; within one
        second, file by file). With decode_base64, BASE64 payloads hold their decoded text
        (`encoding` still says BASE64).

        Raises botocore's ClientError for an unknown endpoint, ValueError for an endpoint
        without data capture."""
        from smlocal.capture_sink.keys import capture_prefix
        from smlocal.capture_sink.reader import iter_records

        described = self.client("sagemaker").describe_endpoint(EndpointName=endpoint)
        capture = described.get("DataCaptureConfig")
        if not capture:
            raise ValueError(f"endpoint {endpoint} has no DataCaptureConfig")
        self.flush_captures(endpoint)
        where = capture_prefix(capture["DestinationS3Uri"], described["EndpointName"], "")
        records = iter_records(
            where.uri + "/", decode_base64=decode_base64, s3_client=self.client("s3")
        )
        return list(records)

    def reset(self, timeout: float = 120.0) -> None:
        """Forget what tests created: monitoring schedules, endpoints (returns once their
        model servers are stopped), endpoint configs, models, the model registry, data
        quality job definitions, every S3 bucket and CloudWatch log group; running training
        and processing jobs are stopped. Finished jobs stay listed: SageMaker cannot delete
        them either."""
        from smlocal.emulator.account_reset import reset_account

        reset_account(self.client, timeout)


def _client_error(exc: urllib.error.HTTPError, operation: str) -> Exception:
    """botocore's ClientError for an error answer of an /_smlocal route (x-amzn-ErrorType
    and a JSON `{"Message": ...}`), as a boto3 call would raise it. Reads and closes the
    answer (unread, its connection would be left to the garbage collector); a body cut short
    still gives the error, with the HTTP reason as its message."""
    import http.client

    from botocore.exceptions import ClientError

    try:
        body = exc.read().decode(errors="replace")
    except (OSError, http.client.HTTPException):
        body = ""
    finally:
        exc.close()
    try:
        document = json.loads(body)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        document = {"Message": body}
    code = exc.headers.get("x-amzn-ErrorType") or document.get("__type") or str(exc.code)
    message = document.get("Message") or document.get("message") or exc.reason
    error = {"Code": str(code).split(":")[0], "Message": str(message)}
    raised: Exception = ClientError(
        {"Error": error, "ResponseMetadata": {"HTTPStatusCode": exc.code}}, operation
    )
    return raised


def _unanswered(exc: OSError, url: str) -> Exception:
    """botocore's error for a request to `url` that got no HTTP answer, as a boto3 call to an
    emulator that is not running (or stopped mid-request) raises it: the URL in its message."""
    import urllib.error

    from botocore.exceptions import (
        ConnectionClosedError,
        EndpointConnectionError,
        ReadTimeoutError,
    )

    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    raised: Exception
    if isinstance(reason, TimeoutError):
        raised = ReadTimeoutError(endpoint_url=url, error=reason)
    elif isinstance(exc, ConnectionError):  # it accepted, then closed without an answer
        raised = ConnectionClosedError(endpoint_url=url, error=reason)
    else:
        raised = EndpointConnectionError(endpoint_url=url, error=reason)
    return raised


@pytest.fixture
def smlocal_flush_captures(smlocal: SmlocalEmulator) -> Callable[[str], dict[str, Any]]:
    """`flush(endpoint)`: the endpoint's captured records are in S3 when it returns."""
    return smlocal.flush_captures


@pytest.fixture(scope="session")
def smlocal(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[SmlocalEmulator]:
    """An emulator for the whole test session (lenient model servers if the project opted in)."""
    emulator = SmlocalEmulator(tmp_path_factory.mktemp("smlocal"), args=_opted_in(pytestconfig))
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def smlocal_factory(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[Callable[..., SmlocalEmulator]]:
    """Start extra emulators with their own environment (`factory(env={...}, args=[...])`);
    lenient model servers too if the project opted in."""
    opted_in = _opted_in(pytestconfig)
    started: list[SmlocalEmulator] = []

    def factory(
        env: Mapping[str, str] | None = None, args: tuple[str, ...] = ()
    ) -> SmlocalEmulator:
        emulator = SmlocalEmulator(tmp_path_factory.mktemp("smlocal"), env, args=opted_in)
        emulator.start(*args)
        started.append(emulator)
        return emulator

    yield factory
    for emulator in started:
        emulator.stop()


class _FastTime:
    """The `time` module as the SageMaker SDK sees it in tests: sleeps cut to 0.1 s.

    Its clock moves on by the part of each sleep that was cut, so the SDK's "describe the
    job again once 30 s have passed" (`logs_for_job`) comes after a few short sleeps.
    """

    def __init__(self) -> None:
        self.skipped = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    def sleep(self, seconds: float) -> None:
        """Sleep at most 0.1 s; count the rest as passed."""
        slept = min(seconds, 0.1)
        time.sleep(slept)
        self.skipped += max(0.0, seconds - slept)

    def time(self) -> float:
        """Wall-clock time plus the sleeps that were cut."""
        return time.time() + self.skipped


@pytest.fixture
def smlocal_sagemaker_session(smlocal: SmlocalEmulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A `sagemaker.Session` on the emulator, default bucket created, polls shortened."""
    import boto3

    # before the import: SDK v2 warns on import that v3 exists, an error under `-W error`
    monkeypatch.setenv("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    import sagemaker.session

    for key, value in smlocal.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(sagemaker.session, "time", _FastTime())
    bucket = "smlocal-sagemaker"
    s3 = smlocal.client("s3")
    if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
        s3.create_bucket(Bucket=bucket)
    boto_session = boto3.Session(region_name=CREDENTIALS["AWS_DEFAULT_REGION"])
    return sagemaker.session.Session(
        boto_session=boto_session, default_bucket=bucket, sagemaker_config=SDK_CONFIG
    )
