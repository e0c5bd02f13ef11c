"""What every `smlocal` subcommand shares: argument types, and expected failures as one plain
line each (the entry point prints them; exit status 1, or 2 for a usage error).

An expected failure is one a user can fix from the message alone: a port in use, an emulator
that is not running, missing AWS credentials, a data directory that is not a folder. Anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_URL = "http://127.0.0.1:4599"
START_HINT = "start it with `smlocal up` (or point AWS_ENDPOINT_URL at a running one)"
CREDENTIALS_HINT = (
    "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (any values "
    "do for the emulator's own S3), or AWS_PROFILE"
)


class CommandFailed(Exception):
    """An expected failure: its message is the whole story, printed as one line (exit 1)."""


def base_url(url: str) -> str:
    """scheme://host:port of a URL (a request's path and query say nothing to the user)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else url


def unreachable(url: str) -> str:
    """The line for an emulator (or S3) that does not answer at url."""
    return f"nothing answers at {base_url(url)}: is the emulator running? {START_HINT}"


def port_in_use(port: int) -> str:
    """The line for a port another process holds."""
    return f"port {port} is in use; choose another with --port or SMLOCAL_PORT"


def plain_failure(exc: BaseException, command: str = "") -> str | None:
    """The one line for an expected failure, or None for a bug (which keeps its traceback).

    For `up` an endpoint that does not answer is the external S3 (--s3-endpoint): the
    emulator's own clients only talk to the emulator itself."""
    if isinstance(exc, CommandFailed):
        return str(exc)
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    if isinstance(exc, NoCredentialsError):
        return CREDENTIALS_HINT
    if isinstance(exc, ClientError):  # the service's answer, as the AWS CLI prints it
        return str(exc)
    if isinstance(exc, EndpointConnectionError):
        url = base_url(str(exc.kwargs.get("endpoint_url", "")))
        if command == "up":
            return f"nothing answers at {url}: start that S3, or leave out --s3-endpoint"
        return unreachable(url)
    return None


def require_credentials() -> None:
    """CommandFailed unless boto3 finds credentials (for an S3 of its own, --s3-endpoint)."""
    import boto3

    if boto3.session.Session().get_credentials() is None:
        raise CommandFailed(CREDENTIALS_HINT)


def port_number(text: str) -> int:
    """An argparse type: a TCP port, 0 (any free one) to 65535."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0 to 65535)")
    return port


def positive_int(text: str) -> int:
    """An argparse type: a whole number of at least 1 (processes, threads)."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return number


def write_blocker(path: Path, *, parents: bool = True) -> str | None:
    """Why the file `path` cannot be written, as the disk shows it before trying, or None: it
    is a folder, or its folder is a file (or is missing, when parents are not made).

    Never raises: a path the disk refuses to look at (a folder without search permission, a
    name too long) is itself the reason, as its strerror says ("Permission denied")."""
    try:
        return _write_blocker(path, parents=parents)
    except OSError as exc:
        return exc.strerror or str(exc)


def _write_blocker(path: Path, *, parents: bool) -> str | None:
    if path.is_dir():
        return "it is a folder"
    for folder in path.parents:
        if folder.is_dir():
            return None
        if folder.exists() or folder.is_symlink():
            return f"{folder} is not a folder"
        if not parents:
            return f"{folder} does not exist"
    return None


def cannot_write(path: Path, exc: OSError, *, parents: bool = True) -> str:
    """The line for an output file that could not be written: `cannot write PATH: why`."""
    reason = write_blocker(path, parents=parents) or exc.strerror or str(exc)
    return f"cannot write {path}: {reason}"


def local_path(text: str) -> Path:
    """An argparse type: a local file or folder; an s3:// URI is refused whole (Path() would
    quietly turn `s3://b/k` into `s3:/b/k`)."""
    if "://" in text:
        raise argparse.ArgumentTypeError(f"{text} is a URI; give a local path here")
    return Path(text)
