"""`smlocal captures ls|show|validate|export|diff|flush`: look at capture files in S3 or a
folder, compare a shadow variant's answers with production's; flush a running emulator's
endpoint so its spooled records are in S3."""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from smlocal.capture_sink.diff import diff_captures, is_shadow, render
from smlocal.capture_sink.listing import list_capture_files
from smlocal.capture_sink.reader import UnreadableRecord, iter_records, read_dataframe
from smlocal.capture_sink.reader import export as export_frame
from smlocal.capture_sink.validate import check_lines
from smlocal.cli_common import (
    DEFAULT_URL,
    CommandFailed,
    cannot_write,
    local_path,
    unreachable,
    write_blocker,
)

SOURCE_HELP = "s3://bucket/prefix, a folder or a .jsonl file (S3 via AWS_ENDPOINT_URL)"


def _time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO-8601 time (e.g. 2024-01-19T19:00:00Z)"
        ) from None


def _window(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--start", type=_time, help="first inferenceTime to include (UTC)")
    parser.add_argument("--end", type=_time, help="inferenceTime to stop before (UTC)")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `captures` to the smlocal command line."""
    top = commands.add_parser(
        "captures",
        help="list, show, validate or export Data Capture files",
        description="Read SageMaker Data Capture files (ours or captured in AWS).",
    )
    sub = top.add_subparsers(dest="action", required=True, metavar="ACTION")
    ls = sub.add_parser("ls", help="list capture files")
    ls.add_argument("source", help=SOURCE_HELP)
    _window(ls)
    ls.set_defaults(handler=ls_command)
    show = sub.add_parser("show", help="print records as JSON lines, in time order")
    show.add_argument("source", help=SOURCE_HELP)
    _window(show)
    show.add_argument("--limit", type=int, help="print at most this many records")
    show.add_argument("--decode", action="store_true", help="decode BASE64 payloads to text")
    show.set_defaults(handler=show_command)
    check = sub.add_parser("validate", help="check files against the capture record contract")
    check.add_argument("sources", nargs="+", metavar="source", help=SOURCE_HELP)
    check.set_defaults(handler=validate_command)
    exp = sub.add_parser("export", help="write records as one flat CSV or Parquet table")
    exp.add_argument("source", help=SOURCE_HELP)
    exp.add_argument("--output", "-o", type=local_path, required=True, help="file to write")
    exp.add_argument("--format", choices=("csv", "parquet"), help="default: by --output suffix")
    _window(exp)
    exp.set_defaults(handler=export_command)
    compare = sub.add_parser(
        "diff",
        help="compare production and shadow answers to the same requests",
        description="Pair a production variant's capture records with a shadow variant's "
        "(by inferenceId, else by the captured request) and compare their answers. With one "
        "SOURCE (e.g. the endpoint's capture folder) the shadow's records are those marked "
        "invocationSource ShadowExperiment; with two, the first is production's, the second "
        "the shadow's.",
    )
    compare.add_argument("sources", nargs="+", metavar="SOURCE", help=SOURCE_HELP)
    compare.add_argument(
        "--tolerance", type=float, default=0.0, help="numbers this close agree (default 0)"
    )
    compare.add_argument("--top", type=int, default=10, help="largest differences to show")
    compare.add_argument("--json", action="store_true", help="print the report as JSON")
    _window(compare)
    compare.set_defaults(handler=diff_command)
    flush = sub.add_parser(
        "flush",
        help="upload an endpoint's spooled records to S3 now (a running emulator)",
        description="Ask a running emulator to roll and upload the capture spools of every "
        "variant of ENDPOINT; returns once the records are in S3.",
    )
    flush.add_argument("endpoint", metavar="ENDPOINT", help="endpoint name")
    flush.add_argument("--url", help="the emulator (default: AWS_ENDPOINT_URL, else :4599)")
    flush.set_defaults(handler=flush_command)


def _fail(args: argparse.Namespace, exc: Exception) -> int:
    """One line; exit 2 for what the command line asked wrong (a source that is not there),
    1 for bad data (a file that is not captures)."""
    print(f"smlocal captures {args.action}: {exc}", file=sys.stderr)
    return 1 if isinstance(exc, UnreadableRecord) else 2


def ls_command(args: argparse.Namespace) -> int:
    """Print one line per capture file: size and location."""
    try:
        files = list_capture_files(args.source, args.start, args.end)
    except (OSError, ValueError) as exc:
        return _fail(args, exc)
    for file in files:
        print(f"{file.size:>10}  {file.uri}")
    print(f"{len(files)} file(s)", file=sys.stderr)
    return 0


def show_command(args: argparse.Namespace) -> int:
    """Print records as compact JSON lines."""
    try:
        records = iter_records(args.source, args.start, args.end, decode_base64=args.decode)
        for count, record in enumerate(records, start=1):
            print(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
            if args.limit is not None and count >= args.limit:
                break
    except (OSError, ValueError) as exc:
        return _fail(args, exc)
    return 0


def validate_command(args: argparse.Namespace) -> int:
    """Print every problem as file:line: field: message; exit 1 when there is any."""
    files = problems = 0
    try:
        for source in args.sources:
            for file in list_capture_files(source):
                files += 1
                for problem in check_lines(file.read(), file.uri):
                    problems += 1
                    print(problem)
    except (OSError, ValueError) as exc:
        return _fail(args, exc)
    verdict = "valid" if not problems else f"{problems} problem(s)"
    print(f"{files} file(s) checked: {verdict}", file=sys.stderr)
    return 1 if problems else 0


def export_command(args: argparse.Namespace) -> int:
    """Write the flat table of the records."""
    fmt = args.format or ("parquet" if args.output.suffix == ".parquet" else "csv")
    blocker = write_blocker(args.output, parents=False)
    if blocker:  # before reading what may be a lot of S3
        raise CommandFailed(f"cannot write {args.output}: {blocker}")
    try:
        frame = read_dataframe(args.source, args.start, args.end)
    except (OSError, ValueError) as exc:
        return _fail(args, exc)
    try:
        export_frame(frame, args.output, fmt)
    except OSError as exc:
        raise CommandFailed(cannot_write(args.output, exc, parents=False)) from None
    print(f"{len(frame)} record(s) written to {args.output}", file=sys.stderr)
    return 0


def diff_command(args: argparse.Namespace) -> int:
    """Print how the shadow's answers differ from production's; exit 0 (1 for bad data)."""
    if len(args.sources) > 2:
        raise CommandFailed("diff takes one SOURCE, or a production and a shadow SOURCE")
    if not args.tolerance >= 0 or args.top < 0:  # NaN too
        raise CommandFailed("--tolerance and --top must not be negative")
    # streamed: diff_captures holds the shadow's records and lets production's pass by, so
    # with one SOURCE it is read twice rather than held whole
    first, second = args.sources[0], args.sources[-1]
    try:
        production: Iterable[dict[str, Any]] = iter_records(first, args.start, args.end)
        shadow: Iterable[dict[str, Any]] = iter_records(second, args.start, args.end)
        if len(args.sources) == 1:
            production = (r for r in production if not is_shadow(r))
            shadow = (r for r in shadow if is_shadow(r))
        report = diff_captures(production, shadow, tolerance=args.tolerance, top=args.top)
    except (OSError, ValueError) as exc:
        return _fail(args, exc)
    print(json.dumps(report.describe(), indent=2) if args.json else render(report))
    return 0


def flush_command(args: argparse.Namespace) -> int:
    """POST /_smlocal/endpoints/{name}/capture/flush and print the emulator's answer."""
    base = args.url or os.environ.get("AWS_ENDPOINT_URL") or DEFAULT_URL
    try:
        print(flush_endpoint(base, args.endpoint))
    except urllib.error.HTTPError as exc:
        with exc:  # read and closed: its socket is not left to the garbage collector
            try:
                body = exc.read().decode(errors="replace")
            except (OSError, http.client.HTTPException):  # an answer cut short
                body = str(exc.reason)
        with contextlib.suppress(ValueError, AttributeError):
            body = json.loads(body).get("Message", body)
        code = (exc.headers.get("x-amzn-ErrorType") or str(exc.code)).split(":")[0]
        print(f"smlocal captures flush: {code}: {body}", file=sys.stderr)
        return 2 if exc.code < 500 else 1  # an unknown endpoint is the caller's; S3's is not
    except OSError as exc:
        return _fail(args, exc)
    return 0


def flush_endpoint(base: str, endpoint: str) -> str:
    """Have the emulator at `base` upload `endpoint`'s spooled records; its JSON answer.

    CommandFailed when nothing answers there; HTTPError when the emulator refuses."""
    name = urllib.parse.quote(endpoint, safe="")
    url = f"{base.rstrip('/')}/_smlocal/endpoints/{name}/capture/flush"
    request = urllib.request.Request(url, data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return str(response.read().decode())
    except urllib.error.HTTPError:
        raise
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, ConnectionError | TimeoutError):
            raise CommandFailed(unreachable(base)) from None
        raise
