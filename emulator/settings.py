"""The emulator's settings, read once at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from smlocal.model_server.environment import (
    DEFAULT_MAX_MODEL_BYTES,
    SMLOCAL_ALLOWED_HOSTS,
    SMLOCAL_ALLOWED_ORIGINS,
    SMLOCAL_CAPTURE_ROLL_SECONDS,
    SMLOCAL_LENIENT_CONTAINERS,
    max_model_bytes,
)

DEFAULT_PORT = 4599
DEFAULT_ACCOUNT = "123456789012"  # moto's default account, so ARNs agree across services
DEFAULT_REGION = "us-east-1"
BACKENDS = ("process", "docker")


@dataclass(frozen=True)
class EmulatorSettings:
    """Where the emulator listens, keeps its state, and runs model servers."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_dir: Path = Path(".smlocal")
    backend: str = "process"
    s3_endpoint: str | None = None  # an external S3 (MinIO, AWS) instead of the embedded one
    region: str = DEFAULT_REGION
    account: str = DEFAULT_ACCOUNT
    invocation_timeout: float = 60.0
    startup_timeout: float = 300.0
    # a serverless variant without ProvisionedConcurrency, idle this long, scales to zero (its
    # next invocation waits for a cold start); 0: never (SMLOCAL_SERVERLESS_IDLE_SECONDS)
    serverless_idle_seconds: float = 300.0
    capture_roll_seconds: float | None = None
    metrics_period_seconds: float | None = None  # tests: publish endpoint metrics this often
    # how long a new or updated monitoring schedule stays Pending before it is Scheduled
    schedule_pending_seconds: float = 1.0
    example: bool = False
    max_model_bytes: int = DEFAULT_MAX_MODEL_BYTES  # the most model data may unpack to
    allowed_hosts: tuple[str, ...] = ()  # host names served besides IPs and loopback names
    allowed_origins: tuple[str, ...] = ()  # web origins allowed to call the emulator
    moto_api: bool = False  # moto's /moto-api/ (dashboard, data, reset)
    # model servers kinder than SageMaker's containers (SMLOCAL_LENIENT_CONTAINERS, or
    # --lenient-containers); the backends pass it on, a model's Environment cannot
    lenient_containers: bool = False
    # user scripts see /opt/ml through a private mount namespace when one can be made
    # (SMLOCAL_SCRIPT_NAMESPACE=0: container paths rewritten instead)
    script_namespace: bool = True
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def model_server_switches(self) -> dict[str, str]:
        """The variables every model server gets from the emulator's own configuration."""
        return {SMLOCAL_LENIENT_CONTAINERS: "1" if self.lenient_containers else "0"}

    @property
    def edge_url(self) -> str:
        """The URL children use to reach the edge (always loopback)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def s3_url(self) -> str:
        """Where S3 requests go: the external endpoint, or the edge's embedded S3."""
        return self.s3_endpoint or self.edge_url

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, **overrides: object
    ) -> EmulatorSettings:
        """Defaults, then SMLOCAL_* variables, then explicit overrides (None ignored)."""
        env = os.environ if env is None else env
        values: dict[str, object] = {
            "region": env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or DEFAULT_REGION,
            "account": env.get("SMLOCAL_ACCOUNT_ID") or DEFAULT_ACCOUNT,
            "max_model_bytes": max_model_bytes(env),  # SMLOCAL_MAX_MODEL_BYTES
            "env": dict(env),
        }
        given = {key for key, value in overrides.items() if value is not None}
        if env.get("SMLOCAL_HOST", "").strip() and "host" not in given:
            values["host"] = env["SMLOCAL_HOST"].strip()
        if env.get("SMLOCAL_PORT", "").strip() and "port" not in given:
            values["port"] = _port(env, "SMLOCAL_PORT")
        if env.get("SMLOCAL_DATA_DIR") and "data_dir" not in given:
            values["data_dir"] = _folder(env, "SMLOCAL_DATA_DIR")
        for key, name in (
            ("SMLOCAL_INVOCATION_TIMEOUT", "invocation_timeout"),
            (SMLOCAL_CAPTURE_ROLL_SECONDS, "capture_roll_seconds"),  # passed on to captures
            ("SMLOCAL_METRICS_PERIOD_SECONDS", "metrics_period_seconds"),
            ("SMLOCAL_SCHEDULE_PENDING_SECONDS", "schedule_pending_seconds"),
            ("SMLOCAL_SERVERLESS_IDLE_SECONDS", "serverless_idle_seconds"),
        ):
            if env.get(key):
                values[name] = _seconds(env, key)
        values["allowed_hosts"] = _names(env.get(SMLOCAL_ALLOWED_HOSTS, ""))
        values["allowed_origins"] = _names(env.get(SMLOCAL_ALLOWED_ORIGINS, ""))
        values["moto_api"] = _flag(env, "SMLOCAL_MOTO_API")
        values["lenient_containers"] = _flag(env, SMLOCAL_LENIENT_CONTAINERS)
        if env.get("SMLOCAL_SCRIPT_NAMESPACE", "").strip():
            values["script_namespace"] = _flag(env, "SMLOCAL_SCRIPT_NAMESPACE")
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)  # type: ignore[arg-type]
        if settings.backend not in BACKENDS:
            raise ValueError(f"--backend must be one of {', '.join(BACKENDS)}")
        return settings


def _port(env: Mapping[str, str], key: str) -> int:
    """A TCP port, 0 (any free one) to 65535."""
    raw = env[key].strip()
    if not raw.isdigit() or int(raw) > 65535:
        raise ValueError(f"{key}={env[key]!r} is not a port number (0 to 65535)")
    return int(raw)


def _folder(env: Mapping[str, str], key: str) -> Path:
    """A local folder (a URI would be mangled by Path: s3://b/k becomes s3:/b/k)."""
    if "://" in env[key]:
        raise ValueError(f"{key}={env[key]!r} is a URI; give a local folder")
    return Path(env[key])


def _seconds(env: Mapping[str, str], key: str) -> float:
    """A positive number of seconds."""
    try:
        value = float(env[key])
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise ValueError(f"{key}={env[key]!r} is not a positive number of seconds")
    return value


def _names(raw: str) -> tuple[str, ...]:
    """A comma-separated list, blanks dropped."""
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _flag(env: Mapping[str, str], key: str) -> bool:
    """A strict boolean: 1/true/yes/on or 0/false/no/off (unset is false)."""
    raw = env.get(key, "").strip().lower()
    if raw in ("", "0", "false", "no", "off"):
        return False
    if raw in ("1", "true", "yes", "on"):
        return True
    raise ValueError(f"{key}={env[key]!r} is not a boolean; use true or false")
