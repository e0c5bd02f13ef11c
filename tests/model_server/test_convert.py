"""`smlocal models convert`: any XGBoost artifact in, a current model.tar.gz out."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import requests

from smlocal.model_server.predictors.xgboost_model import load_booster
from tests.model_server.conftest import LEGACY_ARTIFACT, running
from tests.model_server.test_xgboost_legacy import EXPECTED, FIXTURES, INPUTS, captured, numbers
from tests.support import SMLOCAL


def convert(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SMLOCAL, "models", "convert", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_090_churn_artifact_round_trips_and_serves(tmp_path: Path) -> None:
    artifact = tmp_path / "model.tar.gz"
    with tarfile.open(LEGACY_ARTIFACT) as source, tarfile.open(artifact, "w:gz") as target:
        for member in source.getmembers():
            target.addfile(member, source.extractfile(member))
        notes = tmp_path / "labels.txt"
        notes.write_text("churn\n")
        target.add(notes, arcname="extra/labels.txt")
    output = tmp_path / "out" / "model.tar.gz"
    done = convert(artifact, "--output", output)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"read {artifact}: xgboost-model is a pickled XGBoost Booster holding XGBoost's legacy "
        "binary format, written by XGBoost 0.90 or older",
        "model: gbtree, objective binary:logistic, 100 rounds, 69 features",
        f"wrote {output}: xgboost-model as XGBoost JSON; kept extra/labels.txt",
    ]
    with tarfile.open(output) as tar:
        assert sorted(tar.getnames()) == ["extra", "extra/labels.txt", "xgboost-model"]
        model = json.loads(tar.extractfile("xgboost-model").read())  # type: ignore[union-attr]
    assert model["learner"]["objective"]["name"] == "binary:logistic"
    for server in running(None, tmp_path, extra_args=["--model-data", str(output)]):
        for sent, answered in captured():
            response = requests.post(
                server.url + "/invocations",
                data=sent,
                headers={"Content-Type": "text/csv"},
                timeout=10,
            )
            assert numbers(response.text).tolist() == numbers(answered).tolist()


def test_a_single_model_file_and_a_folder_convert_too(tmp_path: Path) -> None:
    name = "1.0.2/multi-softprob.pkl"
    output = tmp_path / "single.tar.gz"
    done = convert(FIXTURES / name, "-o", output)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == (
        f"read {FIXTURES / name}: multi-softprob.pkl is a pickled XGBoost Booster holding "
        "XGBoost's legacy binary format (in XGBoost 1.0-1.3's serialisation snapshot), "
        "written by XGBoost 1.0"
    )
    folder = tmp_path / "folder"
    folder.mkdir()
    with tarfile.open(output) as tar:
        assert tar.getnames() == ["xgboost-model"]
        tar.extractall(folder, filter="data")
    booster = load_booster(folder / "xgboost-model")
    expected = np.array(EXPECTED["models"][name]["predictions"], dtype=np.float32)
    assert booster.inplace_predict(INPUTS).tolist() == expected.tolist()
    again = convert(folder)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0] == f"read {folder}: xgboost-model is XGBoost JSON"
    assert (tmp_path / "folder-converted.tar.gz").is_file()


def test_what_cannot_be_read_exits_1_with_the_reason(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("label,feature\n" * 20)
    done = convert(text)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        "smlocal models convert: cannot load notes.txt: it is not an XGBoost model: neither "
        "JSON, UBJSON nor XGBoost's legacy binary format (its header is not one XGBoost "
        "0.72-1.7 wrote)\n"
    )
    missing = convert(tmp_path / "absent.tar.gz")
    assert (missing.returncode, missing.stderr) == (
        1,
        f"smlocal models convert: {tmp_path / 'absent.tar.gz'} does not exist\n",
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = convert(empty)
    assert (nothing.returncode, nothing.stderr) == (
        1,
        "smlocal models convert: expected one XGBoost model file named xgboost-model in "
        f"{empty}, found: none\n",
    )
    same = convert(FIXTURES / "0.90" / "dart.bin", "--output", FIXTURES / "0.90" / "dart.bin")
    assert same.returncode == 1
    assert "would overwrite the artifact" in same.stderr
    assert not (tmp_path / "notes-converted.tar.gz").exists()


def test_an_existing_output_is_kept_unless_forced(tmp_path: Path) -> None:
    model = FIXTURES / "0.90" / "regression.bin"
    output = tmp_path / "out.tar.gz"
    output.write_bytes(b"the old archive")
    kept = convert(model, "-o", output)
    assert (kept.returncode, kept.stdout, kept.stderr) == (
        1,
        "",
        f"smlocal models convert: {output} exists; pass --force to overwrite it\n",
    )
    assert output.read_bytes() == b"the old archive"
    forced = convert(model, "-o", output, "--force")
    assert forced.returncode == 0, forced.stderr
    assert tarfile.is_tarfile(output)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tar.gz"]  # no partial file left


def test_outputs_that_cannot_be_written_fail_in_one_line(tmp_path: Path) -> None:
    model = FIXTURES / "0.90" / "regression.bin"
    folder = tmp_path / "outdir"
    folder.mkdir()
    for special in (folder, Path("/dev/full")):  # renaming over either would replace it
        refused = convert(model, "-o", special, "--force")
        assert (refused.returncode, refused.stderr) == (
            1,
            f"smlocal models convert: cannot write {special}: it is not a regular file\n",
        )
    a_file = tmp_path / "file.tar.gz"
    a_file.write_bytes(b"x")
    under_file = convert(model, "-o", a_file / "x.tar.gz")
    assert (under_file.returncode, under_file.stderr) == (
        1,
        f"smlocal models convert: cannot write {a_file / 'x.tar.gz'}: {a_file} is not a folder\n",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.tar.gz", "outdir"]


def test_hostile_pickles_fail_in_one_line(tmp_path: Path) -> None:
    for name, raw in [
        ("protocol.pkl", b"\x80\x09."),
        ("alloc.pkl", b"\x80\x04cbuiltins\nbytearray\nJ\x00\x00\x00\x01\x85R."),
        ("utf8.pkl", b"\x80\x04\x8c\x02\xff\xfe."),
    ]:
        (tmp_path / name).write_bytes(raw)
        done = convert(tmp_path / name, "-o", tmp_path / f"{name}.tar.gz")
        assert done.returncode == 1, name
        assert done.stderr.startswith(f"smlocal models convert: cannot load {name}: "), name
        assert len(done.stderr.splitlines()) == 1, done.stderr
        assert not (tmp_path / f"{name}.tar.gz").exists()


def test_a_uri_is_refused_whole_as_a_usage_error(tmp_path: Path) -> None:
    for args in (
        ["s3://bucket/model.tar.gz"],
        [str(tmp_path / "m.tar.gz"), "-o", "s3://b/out.tar.gz"],
    ):
        done = subprocess.run(
            [*SMLOCAL, "models", "convert", *args], capture_output=True, text=True, check=False
        )
        assert done.returncode == 2, done.stderr
        uri = next(a for a in args if a.startswith("s3://"))
        assert done.stderr.splitlines()[-1].endswith(f"{uri} is a URI; give a local path here")
