"""Capture settings, read once from the environment at the edge (the serving entry point)."""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from smlocal.capture_sink.config import CaptureConfig, load_capture_config

SMLOCAL_CAPTURE_CONFIG = "SMLOCAL_CAPTURE_CONFIG"  # the DataCaptureConfig, as JSON
SMLOCAL_ENDPOINT_NAME = "SMLOCAL_ENDPOINT_NAME"
SMLOCAL_VARIANT_NAME = "SMLOCAL_VARIANT_NAME"
SMLOCAL_CAPTURE_SPOOL_DIR = "SMLOCAL_CAPTURE_SPOOL_DIR"
SMLOCAL_CAPTURE_ROLL_SECONDS = "SMLOCAL_CAPTURE_ROLL_SECONDS"
SMLOCAL_CAPTURE_DISK_THRESHOLD = "SMLOCAL_CAPTURE_DISK_THRESHOLD"
SMLOCAL_CAPTURE_FAILED = "SMLOCAL_CAPTURE_FAILED"
SMLOCAL_CAPTURE_SEED = "SMLOCAL_CAPTURE_SEED"
# eventMetadata.invocationSource of every record (a shadow variant's: "ShadowExperiment")
SMLOCAL_CAPTURE_INVOCATION_SOURCE = "SMLOCAL_CAPTURE_INVOCATION_SOURCE"
AWS_REGION = "AWS_REGION"
AWS_DEFAULT_REGION = "AWS_DEFAULT_REGION"

DEFAULT_VARIANT = "AllTraffic"  # what the SageMaker SDK names the single variant it deploys
DEFAULT_ROLL_SECONDS = 60.0
DEFAULT_DISK_THRESHOLD = 75.0

# SageMaker's EndpointName and VariantName: 1-63 characters, alphanumerics and inner hyphens.
_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class CaptureSettingsError(ValueError):
    """An environment variable of capture has a value that cannot be used."""


@dataclass(frozen=True)
class CaptureSettings:
    """Everything capture needs in a model server, independent of where it came from."""

    config: CaptureConfig
    endpoint_name: str
    variant_name: str = DEFAULT_VARIANT
    spool_dir: Path | None = None  # None: default_spool_dir(endpoint, variant)
    roll_seconds: float = DEFAULT_ROLL_SECONDS
    disk_threshold: float = DEFAULT_DISK_THRESHOLD
    capture_failed: bool = False
    seed: int | None = None
    region: str | None = None
    invocation_source: str | None = None

    @property
    def spool_root(self) -> Path:
        """The spool folder in use."""
        return self.spool_dir or default_spool_dir(self.endpoint_name, self.variant_name)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CaptureSettings | None:
        """The settings, or None when SMLOCAL_CAPTURE_CONFIG is unset (capture is off)."""
        env = os.environ if env is None else env
        raw = env.get(SMLOCAL_CAPTURE_CONFIG, "").strip()
        if not raw:
            return None
        try:
            config = load_capture_config(raw)
        except ValueError as exc:
            raise CaptureSettingsError(f"{SMLOCAL_CAPTURE_CONFIG}: {exc}") from None
        spool = env.get(SMLOCAL_CAPTURE_SPOOL_DIR, "").strip()
        return cls(
            config=config,
            endpoint_name=_name(env, SMLOCAL_ENDPOINT_NAME, None),
            variant_name=_name(env, SMLOCAL_VARIANT_NAME, DEFAULT_VARIANT),
            spool_dir=Path(spool).expanduser() if spool else None,
            roll_seconds=_number(env, SMLOCAL_CAPTURE_ROLL_SECONDS, DEFAULT_ROLL_SECONDS, 0, None),
            disk_threshold=_number(
                env, SMLOCAL_CAPTURE_DISK_THRESHOLD, DEFAULT_DISK_THRESHOLD, 0, 100
            ),
            capture_failed=_bool(env, SMLOCAL_CAPTURE_FAILED),
            seed=_seed(env),
            region=env.get(AWS_REGION) or env.get(AWS_DEFAULT_REGION) or None,
            invocation_source=env.get(SMLOCAL_CAPTURE_INVOCATION_SOURCE, "").strip() or None,
        )


def default_spool_dir(endpoint: str, variant: str) -> Path:
    """A folder under the system temp dir, one per endpoint variant."""
    return Path(tempfile.gettempdir()) / "smlocal-capture" / endpoint / variant


def _name(env: Mapping[str, str], key: str, default: str | None) -> str:
    value = env.get(key, "").strip() or default
    if value is None:
        raise CaptureSettingsError(
            f"{key} is not set: capture needs the endpoint's name for its S3 keys"
        )
    if not _NAME.fullmatch(value):
        raise CaptureSettingsError(
            f"{key}={value!r} is not a SageMaker name: 1 to 63 letters, digits and hyphens, "
            "starting and ending with a letter or digit"
        )
    return value


def _number(
    env: Mapping[str, str], key: str, default: float, low: float, high: float | None
) -> float:
    raw = env.get(key, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise CaptureSettingsError(f"{key}={raw!r} is not a number") from None
    too_low = value < low if high is not None else value <= low
    if too_low or (high is not None and value > high) or not math.isfinite(value):
        span = f"between {low:g} and {high:g}" if high is not None else f"above {low:g}"
        raise CaptureSettingsError(f"{key}={raw!r} must be {span}")
    return value


def _bool(env: Mapping[str, str], key: str) -> bool:
    raw = env.get(key, "")
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise CaptureSettingsError(f"{key}={raw!r} is not a boolean; use true or false")


def _seed(env: Mapping[str, str]) -> int | None:
    raw = env.get(SMLOCAL_CAPTURE_SEED, "").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise CaptureSettingsError(f"{SMLOCAL_CAPTURE_SEED}={raw!r} is not an integer") from None
