"""The `smlocal` command line: one entry point, a subcommand per package."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from model_monitor import cli as model_monitor_cli
from model_server import cli as model_server_cli
from model_server.environment import SettingsError


def parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    top = argparse.ArgumentParser(
        prog="smlocal",
        description="Amazon SageMaker endpoints, Data Capture and Model Monitor on one machine.",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    model_server_cli.register(commands)
    model_monitor_cli.register(commands)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return its exit status."""
    args = parser().parse_args(argv)
    try:
        status: int = args.handler(args)
    except SettingsError as exc:
        print(f"smlocal {args.command}: {exc}", file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":
    sys.exit(main())
