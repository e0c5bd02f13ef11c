"""docker-compose.yml cannot run here (no engine); its structure is checked instead."""

from __future__ import annotations

import yaml

from tests.support import ROOT


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_services_images_are_pinned_and_ports_stay_on_loopback() -> None:
    services = compose()["services"]
    assert set(services) == {"s3", "minio", "emulator"}
    for name in ("s3", "minio"):
        image = services[name]["image"]
        assert ":" in image
        assert not image.endswith(":latest"), f"{name} must use a pinned image"
    assert services["minio"]["profiles"] == ["minio"]
    for service in services.values():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), port


def test_the_emulator_service_runs_smlocal_up_with_the_s3_service_and_the_example() -> None:
    emulator = compose()["services"]["emulator"]
    assert (ROOT / emulator["build"]["dockerfile"]).is_file()
    command = emulator["command"]
    assert command[0] == "up"
    assert command[command.index("--s3-endpoint") + 1] == "${S3_URL:-http://s3:5000}"
    assert "--example" in command
    assert emulator["depends_on"] == ["s3"]
    assert "/_smlocal/health" in " ".join(emulator["healthcheck"]["test"])
    # every option given to `smlocal up` is one it knows
    from smlocal.emulator.cli import parser

    parsed = parser().parse_args(
        [str(c).replace("${S3_URL:-http://s3:5000}", "http://s3:5000") for c in command]
    )
    assert (parsed.host, parsed.s3_endpoint, parsed.example) == ("0.0.0.0", "http://s3:5000", True)
