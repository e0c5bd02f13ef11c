"""Artifacts from a folder, a model.tar.gz or S3; hostile archives are refused."""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import requests

from smlocal.model_server.artifacts import extract_archive, materialize, pack_archive
from smlocal.model_server.errors import ArtifactError
from tests.model_server.conftest import running
from tests.support import ROOT, ServerProcess, free_port


def make_tar(path: Path, members: list[tarfile.TarInfo], data: bytes = b"x") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info in members:
            if info.isfile():
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    return info


@pytest.mark.parametrize(
    ("members", "offender"),
    [
        ([member("/etc/evil")], "/etc/evil"),
        ([member("../evil")], "../evil"),
        ([member("code/../../evil")], "code/../../evil"),
        ([member("escape", tarfile.SYMTYPE, "/etc/passwd")], "escape"),
        ([member("up", tarfile.SYMTYPE, "../../outside")], "up"),
        ([member("hard", tarfile.LNKTYPE, "../outside")], "hard"),
    ],
)
def test_hostile_archives_are_refused(
    tmp_path: Path, members: list[tarfile.TarInfo], offender: str
) -> None:
    archive = make_tar(tmp_path / "model.tar.gz", [member("xgboost-model"), *members])
    with pytest.raises(ArtifactError) as caught:
        extract_archive(archive, tmp_path / "out")
    message = str(caught.value)
    assert message.startswith(f"refusing to extract {archive}: member {offender!r}")
    assert "rebuild the archive with relative paths only" in message
    assert not (tmp_path / "evil").exists()
    assert not (tmp_path.parent / "evil").exists()
    assert leftovers(tmp_path, "model.tar.gz") == []  # not even the members before the offender


def test_a_link_inside_the_folder_is_fine(tmp_path: Path) -> None:
    archive = make_tar(
        tmp_path / "model.tar.gz",
        [member("xgboost-model"), member("alias", tarfile.SYMTYPE, "xgboost-model")],
    )
    extract_archive(archive, tmp_path / "out")
    assert (tmp_path / "out" / "alias").resolve() == (tmp_path / "out" / "xgboost-model").resolve()


def test_not_an_archive(tmp_path: Path) -> None:
    bogus = tmp_path / "model.tar.gz"
    bogus.write_bytes(b"not a tar file at all")
    with pytest.raises(
        ArtifactError, match=rf"^cannot read {re.escape(str(bogus))} as a tar archive: "
    ):
        extract_archive(bogus, tmp_path / "out")
    with pytest.raises(ArtifactError, match=r"^model artifact .*missing does not exist$"):
        materialize(tmp_path / "missing", tmp_path / "out")


def tar_model(folder: Path, archive: Path) -> Path:
    with tarfile.open(archive, "w:gz") as tar:
        for path in folder.iterdir():
            tar.add(path, arcname=path.name)
    return archive


def test_serving_a_local_model_tar_gz(iris_softmax: Path, tmp_path: Path) -> None:
    archive = tar_model(iris_softmax, tmp_path / "model.tar.gz")
    for server in running(None, tmp_path, extra_args=["--model-data", str(archive)]):
        response = requests.post(
            server.url + "/invocations",
            data="7.7,3.0,6.1,2.3",
            headers={"Content-Type": "text/csv"},
            timeout=10,
        )
        assert response.text == "2.0\n"


@pytest.fixture
def s3_server(tmp_path: Path) -> Iterator[ServerProcess]:
    import sys

    port = free_port()
    args = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with ServerProcess(args, port=port, log_path=tmp_path / "moto.log") as server:
        server.wait_ready("/moto-api/", 200)
        yield server


def test_serving_an_s3_artifact_through_an_endpoint_url(
    iris_softmax: Path, tmp_path: Path, s3_server: ServerProcess
) -> None:
    env = {
        "AWS_ENDPOINT_URL": s3_server.url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_server.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    s3.create_bucket(Bucket="models")
    # `#` and `?` are ordinary characters of an S3 key, not a URL fragment or query.
    key = "iris#2?v=1/model.tar.gz"
    s3.upload_file(str(tar_model(iris_softmax, tmp_path / "m.tar.gz")), "models", key)
    args = ["--model-data", f"s3://models/{key}"]
    for server in running(None, tmp_path, env=env, extra_args=args):
        response = requests.post(
            server.url + "/invocations",
            data="5.1,3.5,1.4,0.2",
            headers={"Content-Type": "text/csv"},
            timeout=10,
        )
        assert response.text == "0.0\n"
    missing = ["--model-data", "s3://models/nothing/model.tar.gz"]
    for server in running(None, tmp_path, env=env, extra_args=missing, ready_status=500):
        text = requests.get(server.url + "/ping", timeout=5).text
        assert text.startswith(
            "model failed to load: cannot download s3://models/nothing/model.tar.gz: "
        )
        assert "404" in text or "Not Found" in text


def test_a_model_that_cannot_load_fails_ping_clearly(tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    legacy = ROOT / "tests" / "data" / "legacy-xgboost" / "1.7.6" / "regression.bin"
    (broken / "xgboost-model").write_bytes(legacy.read_bytes()[:700])
    for server in running(broken, tmp_path, ready_status=500):
        ping = requests.get(server.url + "/ping", timeout=5)
        assert ping.status_code == 500
        assert ping.text == (
            "model failed to load: cannot load xgboost-model: the legacy XGBoost model ends "
            "early: tree 0 needs 260 bytes at offset 486, the file has 700"
        )
        invoked = requests.post(
            server.url + "/invocations", data="1,2", headers={"Content-Type": "text/csv"}
        )
        assert invoked.status_code == 503
        assert server.alive
        assert server.log().count("Booting worker") == 1


def test_an_empty_folder_says_what_it_expected(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("hello")
    for server in running(empty, tmp_path, ready_status=500):
        assert requests.get(server.url + "/ping", timeout=5).text == (
            f"model failed to load: no model found in {empty} (it holds: notes.txt): expected "
            "xgboost-model for XGBoost, model.joblib or a .pkl for scikit-learn, or "
            "SAGEMAKER_PROGRAM naming an inference.py with a model_fn"
        )


def test_a_packed_folder_has_its_files_at_the_archive_root_and_extracts_back(tmp_path) -> None:
    folder = tmp_path / "model"
    (folder / "code").mkdir(parents=True)
    (folder / "xgboost-model").write_bytes(b"model")
    (folder / "code" / "inference.py").write_text("x = 1\n")
    archive = pack_archive(folder, tmp_path / "model.tar.gz")
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == ["code", "code/inference.py", "xgboost-model"]
    extract_archive(archive, tmp_path / "out")
    assert (tmp_path / "out" / "xgboost-model").read_bytes() == b"model"
    assert (tmp_path / "out" / "code" / "inference.py").read_text() == "x = 1\n"


# --- size limits: a tar bomb is refused before it fills the disk ---------------------------

MiB = 1024 * 1024


def bomb(path: Path, size: int = 50 * MiB) -> Path:
    """A small file, then `size` bytes of zeros: a few dozen KB once gzipped."""
    with tarfile.open(path, "w:gz") as tar:
        small = tarfile.TarInfo("inference.py")
        small.size = 6
        tar.addfile(small, io.BytesIO(b"x = 1\n"))
        zeros = tarfile.TarInfo("xgboost-model")
        zeros.size = size
        tar.addfile(zeros, io.BytesIO(bytes(size)))
    return path


def leftovers(folder: Path, *expected: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name not in expected)


def test_a_tar_bomb_is_refused_above_the_cap_and_leaves_nothing(tmp_path: Path) -> None:
    archive = bomb(tmp_path / "model.tar.gz")
    assert archive.stat().st_size < MiB
    with pytest.raises(ArtifactError) as caught:
        extract_archive(archive, tmp_path / "out", source="s3://models/bomb.tar.gz", max_bytes=MiB)
    assert str(caught.value) == (
        "refusing to extract s3://models/bomb.tar.gz: it unpacks to at least 50.0 MiB "
        "(52428806 bytes), more than the limit of 1.0 MiB (1048576 bytes); if the model "
        "really is that large, raise the limit by setting SMLOCAL_MAX_MODEL_BYTES to a "
        "larger number of bytes"
    )
    assert leftovers(tmp_path, "model.tar.gz") == []


def test_the_count_while_extracting_refuses_what_the_header_check_missed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = bomb(tmp_path / "model.tar.gz", 3 * MiB)
    monkeypatch.setattr("smlocal.model_server.artifacts._check_headers", lambda *_args: None)
    with pytest.raises(ArtifactError, match=r"^refusing to extract .*model.tar.gz: it unpacks to"):
        extract_archive(archive, tmp_path / "out", max_bytes=MiB)
    assert leftovers(tmp_path, "model.tar.gz") == []


def test_an_existing_destination_is_kept_and_left_empty_after_a_refusal(tmp_path: Path) -> None:
    archive = bomb(tmp_path / "model.tar.gz")
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(ArtifactError, match=r"more than the limit of 1\.0 MiB"):
        extract_archive(archive, dest, max_bytes=MiB)
    assert dest.is_dir()
    assert list(dest.iterdir()) == []
    assert leftovers(tmp_path, "model.tar.gz", "out") == []


def test_an_archive_larger_than_the_free_space_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from smlocal.model_server.artifacts import FREE_SPACE_MARGIN

    archive = bomb(tmp_path / "model.tar.gz", 20 * MiB)
    free = FREE_SPACE_MARGIN + 10 * MiB
    real_usage = shutil.disk_usage
    monkeypatch.setattr(
        "smlocal.model_server.artifacts.shutil.disk_usage",
        lambda path: real_usage(path)._replace(free=free),
    )
    with pytest.raises(ArtifactError) as caught:
        extract_archive(archive, tmp_path / "out" / "model")
    assert str(caught.value) == (
        f"refusing to extract {archive}: it unpacks to at least 20.0 MiB (20971526 bytes), "
        f"more than the 10.0 MiB (10485760 bytes) free on the file system of {tmp_path} once "
        "smlocal leaves 512.0 MiB (536870912 bytes) of it free; free up space on that file "
        "system"
    )
    assert leftovers(tmp_path, "model.tar.gz") == []


def test_an_archive_within_the_cap_extracts_as_before(tmp_path: Path) -> None:
    archive = bomb(tmp_path / "model.tar.gz", MiB // 2)
    extract_archive(archive, tmp_path / "out", max_bytes=MiB)
    assert (tmp_path / "out" / "xgboost-model").stat().st_size == MiB // 2
    assert leftovers(tmp_path, "model.tar.gz", "out") == []


def test_errors_name_the_source_not_the_local_copy(tmp_path: Path) -> None:
    local = tmp_path / "tmpab12cd.tar.gz"
    local.write_bytes(b"not a tar file at all")
    with pytest.raises(ArtifactError) as caught:
        extract_archive(local, tmp_path / "out", source="s3://models/iris/model.tar.gz")
    message = str(caught.value)
    assert message.startswith("cannot read s3://models/iris/model.tar.gz as a tar archive: ")
    assert "tmpab12cd" not in message
    assert leftovers(tmp_path, local.name) == []


def test_serve_applies_its_cap_to_model_data(tmp_path: Path) -> None:
    from smlocal.model_server.artifacts import prepare
    from smlocal.model_server.environment import ServerSettings

    archive = bomb(tmp_path / "model.tar.gz", 2 * MiB)
    settings = ServerSettings(model_data=str(archive), max_model_bytes=MiB)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with pytest.raises(
        ArtifactError, match=rf"^refusing to extract {re.escape(str(archive))}: it unpacks to "
    ):
        prepare(settings, lambda: scratch)
    assert list(scratch.iterdir()) == []


def test_a_write_error_while_extracting_leaves_nothing_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(*_args: object, **_kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    archive = bomb(tmp_path / "model.tar.gz", MiB)
    monkeypatch.setattr(tarfile.TarFile, "makefile", disk_full)
    dest = tmp_path / "scratch" / "model"
    with pytest.raises(ArtifactError) as caught:
        extract_archive(archive, dest, source="s3://models/m.tar.gz")
    assert str(caught.value) == (
        f"cannot extract s3://models/m.tar.gz into {dest}: [Errno 28] No space left on device"
    )
    assert leftovers(tmp_path, "model.tar.gz") == []


def test_serve_removes_the_folder_it_unpacked_into_and_makes_none_it_does_not_need(
    tmp_path: Path, iris_softmax: Path
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    archive = pack_archive(iris_softmax, tmp_path / "model.tar.gz")
    for args in ((None, ["--model-data", str(archive)]), (iris_softmax, [])):
        model_dir, extra = args
        generator = running(model_dir, tmp_path, env={"TMPDIR": str(temp)}, extra_args=extra)
        server = next(generator)
        assert requests.post(
            f"{server.url}/invocations", data="5.1,3.5,1.4,0.2", timeout=10,
            headers={"Content-Type": "text/csv"},
        ).ok  # fmt: skip
        unpacked = sorted(p.name for p in temp.iterdir())
        assert len(unpacked) == (1 if extra else 0), unpacked
        next(generator, None)  # stops the server
        assert sorted(temp.iterdir()) == []


def test_huge_extended_headers_and_too_many_members_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smlocal.model_server import artifacts

    pax = tmp_path / "pax.tar.gz"
    with tarfile.open(pax, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("xgboost-model")
        info.pax_headers = {"comment": "x" * (2 * MiB)}  # read whole into memory by tarfile
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(ArtifactError, match=r"it has a [\d,]+-byte extended header"):
        extract_archive(pax, tmp_path / "pax-out", source="s3://m/pax.tar.gz")
    assert not (tmp_path / "pax-out").exists()

    many = tmp_path / "many.tar.gz"
    with tarfile.open(many, "w:gz") as tar:
        for n in range(12):
            tar.addfile(tarfile.TarInfo(f"f{n}"), io.BytesIO(b""))
    monkeypatch.setattr(artifacts, "MAX_MEMBERS", 10)
    with pytest.raises(ArtifactError, match="it has more than 10 files and folders"):
        extract_archive(many, tmp_path / "many-out")
    assert not (tmp_path / "many-out").exists()
