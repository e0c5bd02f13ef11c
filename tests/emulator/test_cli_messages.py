"""The CLI speaks plainly (issue 11 §3): an expected failure is one line on stderr and exit
status 1, a usage error exit status 2, never a traceback; `smlocal up` takes its address and
data directory from SMLOCAL_* variables (flags win); `monitor run` reads captures in S3 and
keeps every URI whole; the example's snippet works in a second terminal as printed."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from tests.support import SMLOCAL, refused_port

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
START = "is the emulator running? start it with `smlocal up` (or point AWS_ENDPOINT_URL at a running one)"
NO_CREDENTIALS = (
    "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (any values do "
    "for the emulator's own S3), or AWS_PROFILE"
)


def run(*args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None):
    """The real CLI in a child process, with a clean AWS and SMLOCAL environment."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SMLOCAL_"))}
    base.update(AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true")
    base.update(AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent")
    return subprocess.run(
        [*SMLOCAL, *args], env={**base, **(env or {})}, cwd=cwd,
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def last_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr, done.stderr
    return done.stderr.strip().splitlines()[-1]


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port another process (this one) listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


@pytest.fixture
def other_busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


# -- smlocal up: the port, the host, the data directory ------------------------------------


def test_a_port_in_use_is_one_line_naming_it(busy_port, tmp_path) -> None:
    done = run("up", "--port", str(busy_port), "--data-dir", str(tmp_path / "d"))
    assert done.returncode == 1
    assert done.stderr == (
        f"smlocal up: port {busy_port} is in use; choose another with --port or SMLOCAL_PORT\n"
    )


def test_smlocal_port_is_the_default_and_the_flag_wins(busy_port, other_busy_port, tmp_path):
    env = {"SMLOCAL_PORT": str(busy_port), "SMLOCAL_DATA_DIR": str(tmp_path / "d")}
    from_env = run("up", env=env)
    assert from_env.returncode == 1
    assert last_line(from_env) == (
        f"smlocal up: port {busy_port} is in use; choose another with --port or SMLOCAL_PORT"
    )
    flag = run("up", "--port", str(other_busy_port), env=env)
    assert flag.returncode == 1
    assert last_line(flag) == (
        f"smlocal up: port {other_busy_port} is in use; choose another with --port or SMLOCAL_PORT"
    )
    # a flag wins even over a variable that would be refused
    flag_over_bad = run("up", "--port", str(busy_port), env={**env, "SMLOCAL_PORT": "soon"})
    assert (flag_over_bad.returncode, last_line(flag_over_bad)) == (
        1,
        f"smlocal up: port {busy_port} is in use; choose another with --port or SMLOCAL_PORT",
    )


def test_smlocal_host_is_the_default_and_the_flag_wins(busy_port, tmp_path) -> None:
    env = {"SMLOCAL_HOST": "192.0.2.7", "SMLOCAL_DATA_DIR": str(tmp_path / "d")}
    elsewhere = run("up", "--port", "0", env=env)
    assert elsewhere.returncode == 1
    assert last_line(elsewhere) == (
        "smlocal up: cannot listen on 192.0.2.7 port 0 (Cannot assign requested address); "
        "choose another address with --host or SMLOCAL_HOST"
    )
    flag = run("up", "--host", "127.0.0.1", "--port", str(busy_port), env=env)
    assert (flag.returncode, last_line(flag)) == (
        1,
        f"smlocal up: port {busy_port} is in use; choose another with --port or SMLOCAL_PORT",
    )


def test_a_data_directory_that_is_a_file_is_named(tmp_path) -> None:
    data = tmp_path / "data"
    data.write_text("not a folder")
    for done in (
        run("up", "--port", "0", "--data-dir", str(data)),
        run("up", "--port", "0", env={"SMLOCAL_DATA_DIR": str(data)}),
        run("up", "--port", "0", "--data-dir", str(data), env={"SMLOCAL_DATA_DIR": "/x"}),
    ):
        assert done.returncode == 1
        assert done.stderr == (
            f"smlocal up: the data directory {data} is not a folder; give another with "
            "--data-dir or SMLOCAL_DATA_DIR\n"
        )


def test_a_data_directory_inside_a_file_is_named(tmp_path) -> None:
    (tmp_path / "file").write_text("")
    done = run("up", "--port", "0", "--data-dir", str(tmp_path / "file" / "data"))
    assert done.returncode == 1
    assert done.stderr == (
        f"smlocal up: the data directory {tmp_path}/file/data cannot be made: {tmp_path}/file "
        "is a file; give another with --data-dir or SMLOCAL_DATA_DIR\n"
    )


def test_a_damaged_data_directory_is_named(tmp_path) -> None:
    hint = "give another with --data-dir or SMLOCAL_DATA_DIR"
    for name in ("logs", "s3"):
        data = tmp_path / name
        data.mkdir()
        (data / name).write_text("a file where a folder belongs")
        done = run("up", "--port", "0", "--data-dir", str(data))
        assert (done.returncode, done.stderr) == (
            1,
            f"smlocal up: the data directory {data} is damaged: {data / name} should be a "
            f"folder; move that file away, or {hint}\n",
        )
    locked = tmp_path / "lock"
    (locked / ".lock").mkdir(parents=True)
    done = run("up", "--port", "0", "--data-dir", str(locked))
    assert done.returncode == 1
    assert last_line(done) == (
        f"smlocal up: cannot lock the data directory with {locked / '.lock'} (Is a directory); "
        "remove what is there, or give another --data-dir"
    )


def test_a_data_directory_that_is_a_symlink_loop_is_named(tmp_path) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    done = run("up", "--port", "0", "--data-dir", str(loop))
    assert (done.returncode, done.stderr) == (
        1,
        f"smlocal up: the data directory {loop} is not a folder; give another with "
        "--data-dir or SMLOCAL_DATA_DIR\n",
    )


def test_a_ready_file_that_cannot_be_written_stops_up_before_it_listens(tmp_path) -> None:
    (tmp_path / "file").write_text("")
    data = tmp_path / "data"
    for ready, reason in [
        (tmp_path / "missing" / "r.json", f"{tmp_path / 'missing'} does not exist"),
        (tmp_path, "it is a folder"),
        (tmp_path / "file" / "r.json", f"{tmp_path / 'file'} is not a folder"),
    ]:
        done = run("up", "--port", "0", "--data-dir", str(data), "--ready-file", str(ready))
        assert (done.returncode, done.stderr) == (
            1,
            f"smlocal up: cannot write the ready file {ready}: {reason}\n",
        )
    assert not data.exists()  # refused before anything was made


def test_a_state_database_that_is_not_one_is_set_aside_with_one_line(tmp_path) -> None:
    from smlocal.emulator.pytest_plugin import SmlocalEmulator

    data = tmp_path / "data"
    data.mkdir()
    (data / "state.db").write_bytes(b"not SQLite at all" * 100)
    emulator = SmlocalEmulator(data).start()
    try:
        assert emulator.client("sagemaker").list_models()["Models"] == []
    finally:
        emulator.stop()
    (aside,) = data.glob("state.db.corrupt-*")
    log = emulator.log()
    assert "Traceback" not in log
    assert (
        f"ERROR smlocal.emulator.support.store: {data / 'state.db'} is not a readable SQLite database "
        f"(file is not a database); it was renamed to {aside} and smlocal starts with no "
        "models, endpoints or jobs\n"
    ) in log


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SMLOCAL_PORT": "soon"}, "SMLOCAL_PORT='soon' is not a port number (0 to 65535)"),
        ({"SMLOCAL_PORT": "70000"}, "SMLOCAL_PORT='70000' is not a port number (0 to 65535)"),
        (
            {"SMLOCAL_DATA_DIR": "s3://b/k"},
            "SMLOCAL_DATA_DIR='s3://b/k' is a URI; give a local folder",
        ),
        (
            {"SMLOCAL_CAPTURE_ROLL_SECONDS": "soon"},
            "SMLOCAL_CAPTURE_ROLL_SECONDS='soon' is not a positive number of seconds",
        ),
        (
            {"SMLOCAL_MOTO_API": "maybe"},
            "SMLOCAL_MOTO_API='maybe' is not a boolean; use true or false",
        ),
    ],
)
def test_bad_variables_are_usage_errors(env, message, tmp_path) -> None:
    done = run("up", env=env, cwd=tmp_path)
    assert (done.returncode, done.stderr) == (2, f"smlocal up: {message}\n")


def test_bad_flags_are_argparse_usage_errors(tmp_path) -> None:
    port = run("up", "--port", "70000")
    assert port.returncode == 2
    assert last_line(port) == (
        "smlocal up: error: argument --port: '70000' is not a port number (0 to 65535)"
    )
    uri = run("up", "--data-dir", "s3://bucket/state")
    assert uri.returncode == 2
    assert last_line(uri) == (
        "smlocal up: error: argument --data-dir: s3://bucket/state is a URI; give a local path here"
    )


# -- commands that talk to an emulator that is not running ---------------------------------


def test_an_emulator_that_is_down_is_named_with_how_to_start_it(tmp_path) -> None:
    with refused_port() as port:  # nothing listens on it all along
        url = f"http://127.0.0.1:{port}"
        env = {**CREDENTIALS, "AWS_ENDPOINT_URL": url}
        dataset = tmp_path / "data.csv"
        dataset.write_text("a,b\n1,2\n")
        for args, command in [
            (("captures", "ls", "s3://bucket/datacapture/"), "captures ls"),
            (("captures", "show", "s3://bucket/datacapture/"), "captures show"),
            (("captures", "flush", "some-endpoint"), "captures flush"),
            (("captures", "validate", "s3://bucket/datacapture/"), "captures validate"),
            (("captures", "export", "s3://bucket/d/", "-o", str(tmp_path / "x.csv")), "captures export"),
            (
                ("monitor", "report", "s3://bucket/reports/ep/s/2024/01/19/19/",
                 "--baseline-statistics", "s3://bucket/baseline/statistics.json",
                 "--output", str(tmp_path / "report.html")),
                "monitor report",
            ),
            (("demo",), "demo"),
            (
                ("monitor", "run", "s3://bucket/datacapture/ep/", "--baseline-statistics",
                 "s3://bucket/baseline/statistics.json", "--output", str(tmp_path / "out")),
                "monitor run",
            ),
            (
                ("monitor", "run", str(dataset), "--baseline-statistics",
                 "s3://bucket/baseline/statistics.json", "--output", str(tmp_path / "out")),
                "monitor run",
            ),
            (
                ("monitor", "run", str(dataset), "--baseline-constraints",
                 "s3://bucket/baseline/constraints.json", "--output", str(tmp_path / "out")),
                "monitor run",
            ),
        ]:  # fmt: skip
            done = run(*args, env=env)
            assert (done.returncode, done.stderr) == (
                1,
                f"smlocal {command}: nothing answers at {url}: {START}\n",
            ), args
        flag = run("captures", "flush", "ep", "--url", url)
        assert (flag.returncode, flag.stderr) == (
            1,
            f"smlocal captures flush: nothing answers at {url}: {START}\n",
        )


def test_missing_credentials_name_the_variables(tmp_path) -> None:
    with refused_port() as port:
        env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}"}
        done = run("captures", "ls", "s3://bucket/datacapture/", env=env)
        assert (done.returncode, done.stderr) == (1, f"smlocal captures ls: {NO_CREDENTIALS}\n")
        report = run(
            "monitor", "report", "s3://bucket/reports/", "--baseline-statistics",
            "s3://bucket/statistics.json", "--output", str(tmp_path / "r.html"), env=env,
        )  # fmt: skip
        assert (report.returncode, report.stderr) == (
            1,
            f"smlocal monitor report: {NO_CREDENTIALS}\n",
        )


def test_an_external_s3_without_credentials_or_answer_stops_up_plainly(tmp_path) -> None:
    with refused_port() as port:  # nothing listens on it all along
        s3 = f"http://127.0.0.1:{port}"
        up = ("up", "--port", "0", "--data-dir", str(tmp_path / "d"), "--s3-endpoint", s3)
        for args in (up, (*up, "--example")):
            done = run(*args)
            assert (done.returncode, done.stderr) == (1, f"smlocal up: {NO_CREDENTIALS}\n")
        down = run(*up, "--example", env=CREDENTIALS)
        assert down.returncode == 1
        assert last_line(down) == (
            f"smlocal up: nothing answers at {s3}: start that S3, or leave out --s3-endpoint"
        )


# -- monitor run: S3 sources, URIs kept whole ----------------------------------------------


def test_monitor_run_refuses_what_it_cannot_read_from_s3_with_the_uri_whole(tmp_path) -> None:
    out = str(tmp_path / "out")
    dataset = run(
        "monitor", "run", "s3://bucket/data/", "--format", "csv",
        "--baseline-statistics", "s3://bucket/b/statistics.json", "--output", out,
    )  # fmt: skip
    assert (dataset.returncode, dataset.stderr) == (
        2,
        "smlocal monitor run: s3://bucket/data/ is in S3: only Data Capture is read from S3; "
        "copy a CSV or JSON dataset to a local folder\n",
    )
    baseline = run("monitor", "baseline", "s3://bucket/data.csv", "--output", out)
    assert baseline.returncode == 2
    assert last_line(baseline) == (
        "smlocal monitor baseline: error: argument dataset: s3://bucket/data.csv is a URI; "
        "give a local path here"
    )
    output = run(
        "monitor", "run", str(tmp_path), "--baseline-statistics", "x", "--output", "s3://b/o"
    )
    assert output.returncode == 2
    assert last_line(output).endswith(
        "argument --output: s3://b/o is a URI; give a local path here"
    )


def _capture_line(i: int, b: str) -> str:
    record = {
        "captureData": {
            "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                              "data": f"{i % 5},{b}", "encoding": "CSV"},
            "endpointOutput": {"observedContentType": "text/csv; charset=utf-8", "mode": "OUTPUT",
                               "data": f"{i}.5", "encoding": "CSV"},
        },
        "eventMetadata": {"eventId": f"e-{i}", "inferenceTime": f"2024-01-19T19:{i:02d}:00Z"},
        "eventVersion": "0",
    }  # fmt: skip
    return json.dumps(record) + "\n"


def test_monitor_run_reads_captures_and_baseline_files_in_s3(smlocal, tmp_path) -> None:
    s3 = smlocal.client("s3")
    s3.create_bucket(Bucket="cli-messages")
    lines = "".join(_capture_line(i, "3.50" if i % 2 else "3") for i in range(10))
    s3.put_object(
        Bucket="cli-messages",
        Key="capture/ep/AllTraffic/2024/01/19/19/00-00-000-x.jsonl",
        Body=lines.encode(),
    )
    baseline = tmp_path / "baseline.csv"
    baseline.write_text("".join(f"{a}.5,{a},{b}\n" for a in range(5) for b in range(4)))
    made = run("monitor", "baseline", str(baseline), "--no-header", "--output", str(tmp_path / "b"))
    assert made.returncode == 0, made.stderr
    for name in ("statistics.json", "constraints.json"):
        s3.upload_file(str(tmp_path / "b" / name), "cli-messages", f"baseline/{name}")
    env = {**CREDENTIALS, "AWS_ENDPOINT_URL": smlocal.url}
    done = run(
        "monitor", "run", "s3://cli-messages/capture/ep/",
        "--baseline-statistics", "s3://cli-messages/baseline/statistics.json",
        "--baseline-constraints", "s3://cli-messages/baseline/constraints.json",
        "--output", str(tmp_path / "run"), "--verbose", env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert '"dataset_source": "s3://cli-messages/capture/ep/"' in done.stderr
    assert "_c2: data_type_check" in done.stdout
    statistics = json.loads((tmp_path / "run" / "statistics.json").read_text())
    assert statistics["dataset"]["item_count"] == 10
    missing = run(
        "monitor", "run", "s3://cli-messages/capture/ep/",
        "--baseline-statistics", "s3://cli-messages/baseline/none.json",
        "--output", str(tmp_path / "run2"), env=env,
    )  # fmt: skip
    assert missing.returncode == 1
    assert missing.stderr == (
        "smlocal monitor run: Baseline statistics file s3://cli-messages/baseline/none.json "
        "does not exist\n"
    )
    empty = run(
        "monitor", "run", "s3://cli-messages/capture/nothing-here/",
        "--baseline-statistics", "s3://cli-messages/baseline/statistics.json",
        "--output", str(tmp_path / "run3"), env=env,
    )  # fmt: skip
    assert (empty.returncode, empty.stderr) == (
        1,
        "smlocal monitor run: Job inputs had no data\n",
    )


# -- files in the wrong place or of the wrong shape, counts that are not counts ------------


def _execution(folder: Path) -> Path:
    """The three files of a monitoring execution, and a baseline's statistics beside them."""
    folder.mkdir()
    (folder / "statistics.json").write_text('{"features": []}')
    (folder / "constraint_violations.json").write_text('{"violations": []}')
    (folder / "base.json").write_text('{"features": []}')
    return folder


def test_outputs_that_cannot_be_written_are_one_line(tmp_path) -> None:
    execution = _execution(tmp_path / "ex")
    captures = tmp_path / "captures"
    captures.mkdir()
    (captures / "a.jsonl").write_text(_capture_line(1, "3"))
    (tmp_path / "file").write_text("")
    report = ("monitor", "report", str(execution), "--baseline-statistics",
              str(execution / "base.json"), "--output")  # fmt: skip
    export = ("captures", "export", str(captures), "--output")
    for command, output, reason in [
        (report, tmp_path, "it is a folder"),
        (report, tmp_path / "file" / "r.html", f"{tmp_path / 'file'} is not a folder"),
        (export, tmp_path, "it is a folder"),
        (export, tmp_path / "file" / "c.csv", f"{tmp_path / 'file'} is not a folder"),
        (export, tmp_path / "missing" / "c.csv", f"{tmp_path / 'missing'} does not exist"),
    ]:
        done = run(*command, str(output))
        assert (done.returncode, done.stderr) == (
            1,
            f"smlocal {command[0]} {command[1]}: cannot write {output}: {reason}\n",
        ), (command, output)
    written = run(*report, str(tmp_path / "new" / "r.html"))  # a missing folder is made
    assert written.returncode == 0, written.stderr


def test_outputs_the_disk_refuses_to_look_at_are_one_line(tmp_path) -> None:
    """A name too long for the file system (ENAMETOOLONG, even as root) makes looking at the
    path fail too: the strerror is the reason, not a traceback."""
    execution = _execution(tmp_path / "ex")
    captures = tmp_path / "captures"
    captures.mkdir()
    (captures / "a.jsonl").write_text(_capture_line(1, "3"))
    too_long = tmp_path / ("n" * 300)
    report = ("monitor", "report", str(execution), "--baseline-statistics",
              str(execution / "base.json"), "--output", str(too_long / "r.html"))  # fmt: skip
    export = ("captures", "export", str(captures), "--output", str(too_long / "c.csv"))
    for command in (report, export):
        done = run(*command)
        assert (done.returncode, done.stderr) == (
            1,
            f"smlocal {command[0]} {command[1]}: cannot write {command[-1]}: File name too long\n",
        ), command
    ready = too_long / "r.json"
    data = tmp_path / "data"
    done = run("up", "--port", "0", "--data-dir", str(data), "--ready-file", str(ready))
    assert (done.returncode, done.stderr) == (
        1,
        f"smlocal up: cannot write the ready file {ready}: File name too long\n",
    )
    assert not data.exists()


@pytest.mark.skipif(
    hasattr(os, "geteuid") and os.geteuid() == 0,
    reason="root may enter a folder of mode 000, so nothing is refused",
)
def test_an_output_under_a_folder_without_permission_is_one_line(tmp_path) -> None:
    execution = _execution(tmp_path / "ex")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o000)
    try:
        output = locked / "sub" / "r.html"
        done = run("monitor", "report", str(execution), "--baseline-statistics",
                   str(execution / "base.json"), "--output", str(output))  # fmt: skip
    finally:
        locked.chmod(0o700)
    assert (done.returncode, done.stderr) == (
        1,
        f"smlocal monitor report: cannot write {output}: Permission denied\n",
    )


def test_worker_and_thread_counts_below_one_are_usage_errors(tmp_path) -> None:
    dataset = tmp_path / "data.csv"
    dataset.write_text("a,b\n1,2\n")
    output = ("--output", str(tmp_path / "o"))
    for name, command, flag, value in [
        ("monitor baseline", ("monitor", "baseline", str(dataset), *output), "--workers", "0"),
        ("monitor baseline", ("monitor", "baseline", str(dataset), *output), "--workers", "-3"),
        ("monitor run", ("monitor", "run", str(dataset), "--baseline-statistics", "s.json",
                         *output), "--workers", "0"),
        ("serve", ("serve", "--model-dir", str(tmp_path)), "--workers", "0"),
        ("serve", ("serve", "--model-dir", str(tmp_path)), "--threads", "x"),
    ]:  # fmt: skip
        done = run(*command, flag, value)
        assert (done.returncode, last_line(done)) == (
            2,
            f"smlocal {name}: error: argument {flag}: {value!r} is not a whole number of at least 1",
        )
    assert not (tmp_path / "o").exists()


def _numerical(statistics: dict) -> dict:
    return statistics["features"][0]["numerical_statistics"]


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (lambda s: s["dataset"].update(item_count="x"), 'dataset.item_count must be a whole number, not "x"'),
        (lambda s: _numerical(s).update(mean="q"), 'features[0].numerical_statistics.mean must be a number, not "q"'),
        (lambda s: _numerical(s).update(common=[]), "features[0].numerical_statistics.common must be a JSON object, not a JSON array"),
        (lambda s: s["features"][0].pop("name"), "features[0].name is missing"),
        (lambda s: s.update(features="a"), 'features must be a JSON array, not "a"'),
        (lambda s: s.update(features=None), "features is missing"),
    ],
)  # fmt: skip
def test_baseline_statistics_of_the_wrong_json_types_say_what_is_wrong(
    edit, problem, tmp_path
) -> None:
    execution = _execution(tmp_path / "ex")
    dataset = tmp_path / "data.csv"
    dataset.write_text("a\n1\n2\n")
    made = run("monitor", "baseline", str(dataset), "--output", str(tmp_path / "b"))
    assert made.returncode == 0, made.stderr
    statistics = json.loads((tmp_path / "b" / "statistics.json").read_text())
    edit(statistics)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(statistics))
    monitored = run("monitor", "run", str(dataset), "--baseline-statistics", str(bad),
                    "--output", str(tmp_path / "run"))  # fmt: skip
    assert (monitored.returncode, monitored.stderr) == (
        1,
        f"smlocal monitor run: Baseline statistics file {bad}: {problem}\n",
    )
    reported = run("monitor", "report", str(execution), "--baseline-statistics", str(bad),
                   "--output", str(tmp_path / "r.html"))  # fmt: skip
    assert (reported.returncode, reported.stderr) == (
        1,
        f"smlocal monitor report: The baseline statistics file {bad}: {problem}\n",
    )


def test_baseline_statistics_with_jacksons_words_for_doubles_are_read(tmp_path) -> None:
    dataset = tmp_path / "data.csv"
    dataset.write_text("a\n1\n2\n")
    made = run("monitor", "baseline", str(dataset), "--output", str(tmp_path / "b"))
    assert made.returncode == 0, made.stderr
    statistics = json.loads((tmp_path / "b" / "statistics.json").read_text())
    _numerical(statistics).update(std_dev="NaN", min="-Infinity", max="Infinity", sum=None)
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(statistics))
    done = run("monitor", "run", str(dataset), "--baseline-statistics", str(edited),
               "--output", str(tmp_path / "run"))  # fmt: skip
    assert done.returncode == 0, done.stderr


def test_corrupt_capture_files_are_bad_data_and_a_missing_source_a_usage_error(tmp_path):
    captures = tmp_path / "captures"
    captures.mkdir()
    (captures / "a.jsonl").write_text(_capture_line(1, "3") + "not JSON\n")
    where = f"{captures / 'a.jsonl'}:2"
    for action, extra in (("show", ()), ("export", ("-o", str(tmp_path / "c.csv")))):
        done = run("captures", action, str(captures), *extra)
        assert (done.returncode, done.stderr) == (
            1,
            f"smlocal captures {action}: {where}: not a capture record (Expecting value: line 1 "
            "column 1 (char 0)); `smlocal captures validate` lists every problem\n",
        )
        missing = run("captures", action, str(tmp_path / "none"), *extra)
        assert (missing.returncode, missing.stderr) == (
            2,
            f"smlocal captures {action}: no capture file or folder at {tmp_path / 'none'}\n",
        )
    (captures / "a.jsonl").write_text("[1]\n")
    array = run("captures", "show", str(captures))
    assert (array.returncode, array.stderr) == (
        1,
        f"smlocal captures show: {captures / 'a.jsonl'}:1: not a capture record (not a JSON "
        "object)\n",
    )
    assert not (tmp_path / "c.csv").exists()


# -- the example's snippet, in a second terminal ---------------------------------------------


def test_the_example_snippet_works_in_a_fresh_shell_as_printed(smlocal_factory, tmp_path):
    emulator = smlocal_factory(args=("--example",))
    with urllib.request.urlopen(f"{emulator.url}/_smlocal/health", timeout=10) as answer:
        text = json.load(answer)["detail"]
    assert f"curl -s {emulator.url}/_smlocal/health" in text
    assert text.splitlines()[0].startswith("source /")  # the tests run in a virtual env
    shell = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # nothing of smlocal's on PATH
    script = text.replace("/dev/stdout", str(tmp_path / "answer"))
    done = subprocess.run(
        ["bash", "-c", script], env=shell, capture_output=True, text=True, timeout=120,
        check=False, cwd=tmp_path,
    )  # fmt: skip
    assert "not found" not in done.stderr, done.stderr
    assert "1 file(s)\n" in done.stderr or "0 file(s)\n" in done.stderr  # smlocal captures ls
    health, _ = json.JSONDecoder().raw_decode(done.stdout)
    assert health["status"] == "ready"
    assert (tmp_path / "answer").read_text() == "0.0\n"
    assert '"ContentType": "text/csv; charset=utf-8"' in done.stdout


def test_the_snippet_of_an_external_s3_points_s3_clients_there() -> None:
    from smlocal.emulator.demo import snippet

    text = snippet("http://127.0.0.1:4599", "us-east-1", s3_endpoint="http://127.0.0.1:9000")
    assert (
        "export AWS_ENDPOINT_URL=http://127.0.0.1:4599 AWS_ENDPOINT_URL_S3=http://127.0.0.1:9000 "
        "AWS_DEFAULT_REGION=us-east-1\n"
    ) in text
    assert "AWS_ACCESS_KEY_ID=test" not in text  # that S3's own credentials are needed
    assert "curl -s http://127.0.0.1:4599/_smlocal/health" in text


def test_an_aws_error_is_one_line_as_the_aws_cli_prints_it(smlocal) -> None:
    env = {**CREDENTIALS, "AWS_ENDPOINT_URL": smlocal.url}
    done = run("captures", "ls", "s3://no-such-bucket-here/datacapture/", env=env)
    assert (done.returncode, done.stderr) == (
        1,
        "smlocal captures ls: An error occurred (NoSuchBucket) when calling the ListObjectsV2 "
        "operation: The specified bucket does not exist\n",
    )


def test_the_command_line_starts_without_numpy_or_the_control_plane() -> None:
    """`smlocal` imports what its commands need when they run: a spawned monitor worker
    imports the command line's module again, and every command pays for its start-up."""
    code = (
        "import sys, smlocal.emulator.cli; "
        "print(sorted(m for m in ('numpy', 'pandas', 'pyarrow', 'xgboost', "
        "'smlocal.emulator.control', 'smlocal.emulator.hosting') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert loaded.stdout.strip() == "[]"
