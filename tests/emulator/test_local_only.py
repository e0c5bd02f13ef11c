"""The edge serves this machine's clients, never a web page: Host and Origin are checked,
preflights are answered by smlocal (not moto), /moto-api/ is off unless asked for."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.exceptions
import pytest
import requests

from smlocal.emulator.wire.guard import Trust
from tests.support import CHROMIUM, CHROMIUM_ARGS, ROLE, XGBOOST_IMAGE, unique

EVIL = "http://evil.example"


def control(url: str, operation: str, body: dict, **headers: str) -> requests.Response:
    return requests.post(
        url,
        data=json.dumps(body),
        headers={
            "X-Amz-Target": f"SageMaker.{operation}",
            "Content-Type": "application/x-amz-json-1.1",
            **headers,
        },
        timeout=10,
    )


def preflight(url: str, origin: str) -> requests.Response:
    """A browser's CORS preflight for a control-plane call."""
    return requests.options(
        url,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "x-amz-target,content-type",
        },
        timeout=10,
    )


def model_body(name: str) -> dict:
    return {
        "ModelName": name,
        "ExecutionRoleArn": ROLE,
        "PrimaryContainer": {"Image": XGBOOST_IMAGE, "ModelDataUrl": "s3://b/m.tar.gz"},
    }


def test_a_foreign_origin_can_neither_preflight_nor_call(smlocal) -> None:
    refused_preflight = preflight(smlocal.url, EVIL)
    assert refused_preflight.status_code == 403
    assert "Access-Control-Allow-Origin" not in refused_preflight.headers

    name = unique("evil")
    refused = control(smlocal.url, "CreateModel", model_body(name), Origin=EVIL)
    assert refused.status_code == 403
    assert refused.json()["__type"] == "AccessDeniedException"
    assert "http://evil.example" in refused.json()["message"]
    assert "SMLOCAL_ALLOWED_ORIGINS" in refused.json()["message"]
    with pytest.raises(botocore.exceptions.ClientError, match="Could not find model"):
        smlocal.client("sagemaker").describe_model(ModelName=name)

    s3 = smlocal.client("s3")
    s3.create_bucket(Bucket="guarded")
    put = requests.put(f"{smlocal.url}/guarded/x", data=b"x", headers={"Origin": EVIL}, timeout=10)
    assert put.status_code == 403
    assert b"<Code>AccessDenied</Code>" in put.content
    assert "Contents" not in s3.list_objects_v2(Bucket="guarded")

    invoke = requests.post(
        f"{smlocal.url}/endpoints/any/invocations",
        data=b"1,2",
        headers={"Content-Type": "text/csv", "Origin": "null"},
        timeout=10,
    )
    assert invoke.status_code == 403
    assert invoke.headers["x-amzn-ErrorType"] == "AccessDeniedException"


def test_a_no_cors_request_of_a_foreign_page_is_refused(smlocal) -> None:
    response = requests.get(
        f"{smlocal.url}/_smlocal/health", headers={"Sec-Fetch-Site": "cross-site"}, timeout=10
    )
    assert response.status_code == 403
    typed = requests.get(
        f"{smlocal.url}/_smlocal/health", headers={"Sec-Fetch-Site": "none"}, timeout=10
    )
    assert typed.status_code == 200  # a person typing the address in the browser


def test_foreign_host_names_are_refused_against_dns_rebinding(smlocal) -> None:
    rebound = control(smlocal.url, "ListModels", {}, Host=f"attacker.example:{smlocal.port}")
    assert rebound.status_code == 403
    assert "attacker.example" in rebound.json()["message"]
    assert "SMLOCAL_ALLOWED_HOSTS" in rebound.json()["message"]
    for host in (f"localhost:{smlocal.port}", f"127.0.0.1:{smlocal.port}", "[::1]:4599"):
        assert control(smlocal.url, "ListModels", {}, Host=host).status_code == 200, host


def test_moto_api_is_off_unless_asked_for(smlocal, smlocal_factory) -> None:
    for path in ("/moto-api/", "/%6Doto-api/data.json", "/x/../moto-api/", "/moto-api"):
        assert requests.get(f"{smlocal.url}{path}", timeout=10).status_code == 404, path
    for path in ("/moto-api/reset", "/%6Doto-api/reset", "/moto%2Dapi/reset"):
        assert requests.post(f"{smlocal.url}{path}", timeout=10).status_code == 404, path
    opened = smlocal_factory(env={"SMLOCAL_MOTO_API": "1"})
    assert requests.get(f"{opened.url}/moto-api/", timeout=10).status_code == 200


def test_an_allowed_origin_gets_cors_and_others_still_do_not(smlocal_factory) -> None:
    friend = "http://localhost:3000"
    emulator = smlocal_factory(env={"SMLOCAL_ALLOWED_ORIGINS": friend})
    granted = preflight(emulator.url, friend)
    assert granted.status_code == 204
    assert granted.headers["Access-Control-Allow-Origin"] == friend
    assert granted.headers["Access-Control-Allow-Headers"] == "x-amz-target,content-type"
    listed = control(emulator.url, "ListModels", {}, Origin=friend)
    assert listed.status_code == 200
    assert listed.headers["Access-Control-Allow-Origin"] == friend
    own = control(emulator.url, "ListModels", {}, Origin=f"http://127.0.0.1:{emulator.port}")
    assert own.status_code == 200  # a page the emulator itself served
    assert control(emulator.url, "ListModels", {}, Origin=EVIL).status_code == 403
    # any IP is a safe Host, but a page at some IP on the emulator's port is someone else's
    for stranger in (
        f"http://203.0.113.7:{emulator.port}",
        f"http://[2001:db8::1]:{emulator.port}",
    ):
        assert control(emulator.url, "ListModels", {}, Origin=stranger).status_code == 403
        assert preflight(emulator.url, stranger).status_code == 403


def test_moto_account_header_cannot_choose_where_a_bucket_is_stored(smlocal, tmp_path) -> None:
    victim = tmp_path / "victim" / "precious"
    victim.mkdir(parents=True)
    (victim / "thesis.txt").write_text("years of work")
    depth = len(smlocal.data_dir.resolve().parts) + 2
    escape = "/".join([".."] * depth) + str(tmp_path / "victim")
    for account, header in (
        (escape, "x-moto-account-id"),
        (str(tmp_path / "victim"), "x-moto-account-id"),
        ("999999999999", "x_moto_account_id"),
    ):
        headers = {header: account}
        assert requests.put(f"{smlocal.url}/precious", headers=headers, timeout=10).ok
        assert requests.delete(f"{smlocal.url}/precious", headers=headers, timeout=10).ok
    assert (victim / "thesis.txt").read_text() == "years of work"
    assert sorted(p.name for p in victim.iterdir()) == ["thesis.txt"]
    assert not (smlocal.data_dir / "s3" / "999999999999").exists()


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("localhost", True),
        ("LOCALHOST:4599", True),
        ("bucket.localhost:4599", True),
        ("127.0.0.1:4599", True),
        ("127.8.9.10", True),
        ("[::1]:4599", True),
        ("10.1.2.3:4599", True),  # any IP literal: a rebinding page can only send its name
        ("host.docker.internal:4599", True),
        ("evil.example", False),
        ("localhost.evil.example:4599", False),
        ("evil.example.:4599", False),
    ],
)
def test_host_names_served(host: str, allowed: bool) -> None:
    assert Trust(port=4599).host_allowed(host) is allowed


def test_listed_host_names_and_origins() -> None:
    trust = Trust(port=4599, hosts=frozenset({"smlocal"}), origins=frozenset({"https://a.b"}))
    assert trust.host_allowed("smlocal:4599")
    assert trust.origin_allowed("https://a.b")
    assert trust.origin_allowed("http://localhost:4599")
    assert trust.origin_allowed("http://smlocal:4599")
    assert trust.origin_allowed("http://127.0.0.2:4599")
    assert not trust.origin_allowed("http://10.0.0.5:4599")
    assert Trust(port=4599, bind="10.0.0.5").origin_allowed("http://10.0.0.5:4599")
    assert not trust.origin_allowed("http://localhost:4598")
    assert not trust.origin_allowed("https://a.b.evil")
    assert not trust.origin_allowed("null")


# -- a real browser -----------------------------------------------------------------------

ATTACK = """<!doctype html><title>a page</title><script>
async function attack(emulator) {
  const results = {};
  try {
    await fetch(emulator + "/", {method: "POST", body: JSON.stringify(%(model)s),
      headers: {"X-Amz-Target": "SageMaker.CreateModel",
                "Content-Type": "application/x-amz-json-1.1"}});
    results.createModel = "sent";
  } catch (e) { results.createModel = "blocked"; }
  const form = new FormData();
  form.append("key", "pwned.txt");
  form.append("file", new Blob(["pwned"]), "pwned.txt");
  await fetch(emulator + "/victim", {method: "POST", mode: "no-cors", body: form});
  results.formPost = "sent";
  return results;
}
</script>"""


@pytest.fixture
def attacker_page() -> Iterator[str]:
    """A page served from another origin (evil.example, resolved to loopback by Chromium)."""
    page = ATTACK % {"model": json.dumps(model_body("from-a-web-page"))}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://evil.example:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium")
def test_a_web_page_in_a_real_browser_cannot_drive_the_emulator(smlocal, attacker_page) -> None:
    from playwright.sync_api import sync_playwright

    s3 = smlocal.client("s3")
    s3.create_bucket(Bucket="victim")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[*CHROMIUM_ARGS, "--host-resolver-rules=MAP evil.example 127.0.0.1"],
        )
        try:
            page = browser.new_page()
            page.goto(attacker_page)
            results = page.evaluate("emulator => attack(emulator)", smlocal.url)
        finally:
            browser.close()
    assert results == {"createModel": "blocked", "formPost": "sent"}
    with pytest.raises(botocore.exceptions.ClientError, match="Could not find model"):
        smlocal.client("sagemaker").describe_model(ModelName="from-a-web-page")
    assert "Contents" not in s3.list_objects_v2(Bucket="victim")
