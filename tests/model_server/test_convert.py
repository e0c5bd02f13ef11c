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


def test_what_cannot_be_read_exits_2_with_the_reason(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("label,feature\n" * 20)
    done = convert(text)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "smlocal models convert: cannot load notes.txt: it is not an XGBoost model: neither "
        "JSON, UBJSON nor XGBoost's legacy binary format (its header is not one XGBoost "
        "0.72-1.7 wrote)\n"
    )
    missing = convert(tmp_path / "absent.tar.gz")
    assert (missing.returncode, missing.stderr) == (
        2,
        f"smlocal models convert: {tmp_path / 'absent.tar.gz'} does not exist\n",
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = convert(empty)
    assert (nothing.returncode, nothing.stderr) == (
        2,
        "smlocal models convert: expected one XGBoost model file named xgboost-model in "
        f"{empty}, found: none\n",
    )
    same = convert(FIXTURES / "0.90" / "dart.bin", "--output", FIXTURES / "0.90" / "dart.bin")
    assert same.returncode == 2
    assert "would overwrite the artifact" in same.stderr
    assert not (tmp_path / "notes-converted.tar.gz").exists()
