"""docker-compose.yml cannot run here (no engine); its structure is checked instead."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.support import ROOT

EMULATORS = ("emulator", "emulator-minio")


def text() -> str:
    return (ROOT / "docker-compose.yml").read_text()


def compose() -> dict:
    return yaml.safe_load(text())


def services() -> dict:
    return compose()["services"]


def smlocal_up(service: dict):
    """The `smlocal up` options a service runs with, parsed by smlocal's own parser (so
    every option given is one it knows)."""
    from smlocal.emulator.cli import parser

    command = [str(c) for c in service["command"]]
    assert command[0] == "up"
    return parser().parse_args(command)


def test_images_are_pinned_and_profiles_keep_minio_apart() -> None:
    found = services()
    assert set(found) == {"emulator", "minio", "emulator-minio"}
    image = found["minio"]["image"]
    assert ":" in image
    assert not image.endswith(":latest")
    assert "profiles" not in found["emulator"]
    assert found["minio"]["profiles"] == found["emulator-minio"]["profiles"] == ["minio"]
    for name in EMULATORS:
        assert (ROOT / found[name]["build"]["dockerfile"]).is_file()


def test_the_emulators_image_holds_all_of_smlocal_and_runs_it() -> None:
    for name in EMULATORS:
        dockerfile = (ROOT / services()[name]["build"]["dockerfile"]).read_text()
        assert 'ENTRYPOINT ["smlocal"]' in dockerfile
        assert "RUN pip install --no-cache-dir ." in dockerfile  # the distribution, every library
        for package in ("smlocal", "emulator", "model_server", "capture_sink", "model_monitor"):
            assert f"COPY {package} ./{package}" in dockerfile, package


def test_ports_are_published_on_the_hosts_loopback_only_and_never_twice() -> None:
    published = []
    for service in services().values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), port
            published.append(port.split(":")[1])
    assert len(published) == len(set(published)), published  # both emulators can run at once


def test_every_service_has_a_healthcheck_and_waits_for_healthy_dependencies() -> None:
    found = services()
    for name, service in found.items():
        assert service["healthcheck"]["test"][0] == "CMD", name
        for dependency, condition in service.get("depends_on", {}).items():
            assert condition == {"condition": "service_healthy"}, (name, dependency)
            assert "healthcheck" in found[dependency]
    assert set(found["emulator-minio"]["depends_on"]) == {"minio"}
    for name in EMULATORS:
        check = " ".join(found[name]["healthcheck"]["test"])
        assert "http://127.0.0.1:4599/_smlocal/health" in check
        assert smlocal_up(found[name]).port == 4599  # what the healthcheck and ports name
        assert all(p.endswith(":4599") for p in found[name]["ports"])


def test_s3_objects_live_exactly_as_long_as_the_emulators_state() -> None:
    document = compose()
    found = document["services"]
    declared = set(document["volumes"])

    def named_volume(service: dict, path: str) -> str:
        mounts = dict(v.rsplit(":", 1)[::-1] for v in service["volumes"])
        assert mounts[path] in declared, mounts  # a named volume, never a bind mount
        return mounts[path]

    # default: S3 is the emulator's own, its objects inside the data directory's volume
    default = smlocal_up(found["emulator"])
    assert default.s3_endpoint is None
    assert named_volume(found["emulator"], str(default.data_dir)) == "smlocal-data"
    # MinIO: its objects and the emulator's state are named volumes of the same project
    minio = smlocal_up(found["emulator-minio"])
    assert minio.s3_endpoint == "http://minio:9000"
    assert named_volume(found["minio"], found["minio"]["command"][1]) == "minio-data"
    assert named_volume(found["emulator-minio"], str(minio.data_dir)) == "smlocal-minio-data"
    assert "smlocal-data" not in found["emulator-minio"]["volumes"]


def test_the_emulators_answer_their_compose_names_and_use_minios_credentials() -> None:
    found = services()
    for name in EMULATORS:
        allowed = found[name]["environment"]["SMLOCAL_ALLOWED_HOSTS"].split(",")
        assert name in [host.strip() for host in allowed]
        assert smlocal_up(found[name]).example
        assert smlocal_up(found[name]).host == "0.0.0.0"
    minio, emulator = found["minio"]["environment"], found["emulator-minio"]["environment"]
    assert emulator["AWS_ACCESS_KEY_ID"] == minio["MINIO_ROOT_USER"]
    assert emulator["AWS_SECRET_ACCESS_KEY"] == minio["MINIO_ROOT_PASSWORD"]


@pytest.mark.parametrize(
    ("snippet", "required"),
    [("${S3_URL:-http://s3:5000}", []), ("${S3_URL}", ["S3_URL"]), ("$HOME/x", ["HOME"]),
     ("${A-b} $$literal ${B:?set B} ${C:+x}", ["B"])],
)  # fmt: skip
def test_required_variables_are_found(snippet: str, required: list[str]) -> None:
    assert required_variables(snippet) == required


def required_variables(source: str) -> list[str]:
    """Variables compose would need from the shell: ${VAR}, $VAR, ${VAR:?..} (not $$, and
    not ${VAR:-default} or ${VAR-default})."""
    source = source.replace("$$", "")
    braced = re.findall(r"\$\{([A-Za-z_]\w*)(:?[-?+][^}]*)?\}", source)
    bare = re.findall(r"\$([A-Za-z_]\w*)", source)
    needed = [name for name, tail in braced if tail.lstrip(":")[:1] in ("", "?")]
    return needed + bare


def test_no_variable_has_to_be_set_by_hand() -> None:
    body = "\n".join(line.split("#", 1)[0] for line in text().splitlines())
    assert required_variables(body) == []
