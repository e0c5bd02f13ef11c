"""The `smlocal` command line: one entry point, a subcommand per package."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

import smlocal
from smlocal.capture_sink import cli as capture_cli
from smlocal.cli_common import (
    CommandFailed,
    local_path,
    plain_failure,
    port_number,
    require_credentials,
    write_blocker,
)
from smlocal.emulator import walk
from smlocal.model_monitor import cli as model_monitor_cli
from smlocal.model_server import cli as model_server_cli
from smlocal.model_server.environment import SettingsError


def parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    top = argparse.ArgumentParser(
        prog="smlocal",
        description="Amazon SageMaker endpoints, Data Capture and Model Monitor on one machine.",
    )
    top.add_argument("--version", action="version", version=f"smlocal {smlocal.__version__}")
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    model_server_cli.register(commands)
    capture_cli.register(commands)
    model_monitor_cli.register(commands)
    register_up(commands)
    walk.register(commands)
    return top


def register_up(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `up`, which starts the emulator."""
    p = commands.add_parser(
        "up",
        help="start the emulator: SageMaker control plane, runtime and AWS services on one URL",
        description="Serve the SageMaker control plane, runtime, S3 and the other AWS services "
        "the flows need on one URL. Point clients at it with AWS_ENDPOINT_URL.",
    )
    p.add_argument("--host", help="bind address (default 127.0.0.1, SMLOCAL_HOST)")
    p.add_argument(
        "--port", type=port_number, help="port (default 4599, SMLOCAL_PORT; 0 picks a free one)"
    )
    p.add_argument(
        "--data-dir",
        type=local_path,
        help="state, S3 objects, logs (default ./.smlocal, SMLOCAL_DATA_DIR)",
    )
    p.add_argument("--backend", choices=["process", "docker"], help="how model servers run")
    p.add_argument("--s3-endpoint", help="an external S3 (MinIO, AWS) instead of the embedded one")
    p.add_argument("--example", action="store_true", help="create the iris example endpoint")
    p.add_argument("--ready-file", type=local_path, help="write {url, pid} here once ready")
    p.add_argument(
        "--lenient-containers",
        action="store_true",
        help="model servers accept what SageMaker's containers refuse (JSON for XGBoost, one "
        "CSV row for scikit-learn); off by default (SMLOCAL_LENIENT_CONTAINERS=1)",
    )
    p.set_defaults(handler=up)


def up(args: argparse.Namespace) -> int:
    """Run the emulator until SIGTERM or Ctrl-C."""
    from smlocal.emulator.server import Emulator, configure_logging
    from smlocal.emulator.settings import EmulatorSettings

    try:  # flags win over SMLOCAL_* variables, which win over the defaults
        settings = EmulatorSettings.from_env(
            host=args.host,
            port=args.port,
            data_dir=args.data_dir,
            backend=args.backend,
            s3_endpoint=args.s3_endpoint,
            example=args.example or None,
            lenient_containers=args.lenient_containers or None,
        )
    except ValueError as exc:  # a bad SMLOCAL_* value: a usage error
        raise SettingsError(str(exc)) from None
    if settings.s3_endpoint:  # say so now, not at the first request that reaches S3
        require_credentials()
    blocker = args.ready_file and write_blocker(args.ready_file, parents=False)
    if blocker:  # say so now, not once the emulator is listening
        raise CommandFailed(f"cannot write the ready file {args.ready_file}: {blocker}")
    configure_logging(settings)
    return Emulator(settings, args.ready_file).run()


class CtrlC:
    """Remembers a Ctrl-C (SIGINT) while raising KeyboardInterrupt as Python does.

    Python cannot raise a KeyboardInterrupt out of a finalizer or a weakref callback: one that
    lands there is printed as "Exception ignored in ..." and lost, and the command goes on. When
    what it started (an emulator in the same process group, say) stopped on the same Ctrl-C,
    the command then fails on that instead; `seen` tells `main` that it was a Ctrl-C all along.
    """

    def __init__(self) -> None:
        self.seen = False
        self.installed = threading.current_thread() is threading.main_thread() and (
            signal.getsignal(signal.SIGINT) is signal.default_int_handler
        )  # not where SIGINT is ignored (a background job) or handled by the embedding program
        if self.installed:
            signal.signal(signal.SIGINT, self._interrupt)

    def _interrupt(self, signum: int, frame: object) -> None:
        self.seen = True
        raise KeyboardInterrupt

    def restore(self) -> None:
        """Python's own handler again, unless the command put one of its own in place."""
        if self.installed and signal.getsignal(signal.SIGINT) == self._interrupt:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return its exit status."""
    args = parser().parse_args(argv)
    ctrl_c = CtrlC()
    try:
        return _run(args, ctrl_c)
    finally:
        ctrl_c.restore()


def _run(args: argparse.Namespace, ctrl_c: CtrlC) -> int:
    try:
        status: int = args.handler(args)
    except SettingsError as exc:
        print(f"smlocal {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: what the command started is stopped on the way out
        return _interrupted(args)
    except Exception as exc:
        if ctrl_c.seen:  # a Ctrl-C whose KeyboardInterrupt Python lost (see CtrlC)
            return _interrupted(args)
        line = plain_failure(exc, args.command)
        if line is None:
            raise
        print(f"{command_name(args)}: {line}", file=sys.stderr)
        return 1
    return status


def _interrupted(args: argparse.Namespace) -> int:
    print(f"{command_name(args)}: interrupted", file=sys.stderr)
    return 130


def command_name(args: argparse.Namespace) -> str:
    """`smlocal captures ls`: the command and its action, for the start of a message."""
    action = getattr(args, "action", None) or getattr(args, "monitor_command", None)
    return " ".join(part for part in ("smlocal", args.command, action) if part)


if __name__ == "__main__":
    sys.exit(main())
