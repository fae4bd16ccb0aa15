"""Fault injection, the request log, the App-level endpoints and the process entry point."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
from githubkit import AppAuthStrategy, GitHub

from tests.emulator.fixture import Emulator, free_port

ROOT = Path(__file__).resolve().parents[2]


def test_rate_limits_errors_and_latency(emulator: Emulator, raw: httpx.Client) -> None:
    emulator.faults(rate_limit_after=3)
    first = raw.get("/repos/octo/demo")
    assert first.headers["X-RateLimit-Limit"] == "3"
    assert first.headers["X-RateLimit-Remaining"] == "2"
    assert first.headers["X-RateLimit-Resource"] == "core"
    raw.get("/repos/octo/demo"), raw.get("/repos/octo/demo")
    limited = raw.get("/repos/octo/demo")
    assert limited.status_code == 403 and "rate limit exceeded" in limited.json()["message"]
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    # the control API is never throttled
    assert emulator.state("octo", "demo")["full_name"] == "octo/demo"

    emulator.faults(secondary_rate_limit=True)
    secondary = raw.get("/repos/octo/demo")
    assert secondary.status_code == 403 and secondary.headers["Retry-After"] == "60"
    emulator.faults(secondary_rate_limit=2, secondary_status=429)
    assert [raw.get("/repos/octo/demo").status_code for _ in range(3)] == [200, 200, 429]

    emulator.faults(error_rate=1)
    assert {raw.get("/repos/octo/demo").status_code for _ in range(6)} <= {502, 503}
    emulator.faults(error_rate=0, latency_ms=150)
    start = time.monotonic()
    assert raw.get("/repos/octo/demo").status_code == 200
    assert time.monotonic() - start >= 0.15
    emulator.faults()


def test_request_log_records_status(emulator: Emulator, raw: httpx.Client) -> None:
    emulator.clear_requests()
    raw.get("/repos/octo/demo/pulls/99")
    raw.get("/repos/octo/demo")
    raw.get("/definitely/not/github")
    log = [(r["method"], r["path"], r["status"]) for r in emulator.requests()]
    assert log == [("GET", "/repos/octo/demo/pulls/99", 404), ("GET", "/repos/octo/demo", 200),
                   ("GET", "/definitely/not/github", 404)]


def test_app_level_endpoints_and_manifest_flow(
    app_gh: GitHub, emulator: Emulator, repo: dict
) -> None:
    app = app_gh.rest.apps.get_authenticated().parsed_data
    assert app.slug == "shipcrew-test" and app.permissions.workflows == "write"
    inst = app_gh.rest.apps.get_repo_installation("octo", "demo").parsed_data
    assert inst.id == repo["installation_id"] and inst.account.login == "octo"
    code = emulator.control("POST", "/app-manifests", {"manifest": {
        "name": "shipcrew", "url": "https://example.com",
        "hook_attributes": {"url": "https://example.com/webhooks"},
        "default_permissions": {"checks": "write", "contents": "write"},
        "default_events": ["pull_request"]}})["code"]
    anonymous = GitHub(base_url=emulator.url, auto_retry=False)
    data = anonymous.rest.apps.create_from_manifest(code).parsed_data
    assert data.pem == emulator.credentials["private_key_pem"]
    assert data.webhook_secret == emulator.credentials["webhook_secret"]
    assert data.permissions.checks == "write"
    again = emulator.http.post(f"/app-manifests/{code}/conversions")
    assert again.status_code == 404  # codes are single use


def test_python_m_entry_point_writes_credentials(tmp_path: Path) -> None:
    port = free_port()
    creds_file = tmp_path / "creds.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.emulator", "--port", str(port), "--credentials",
         str(creds_file), "--webhook-url", "http://127.0.0.1:9/hooks"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/_emulator/credentials").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        creds = json.loads(creds_file.read_text())
        assert set(creds) == {"app_id", "app_slug", "private_key_pem", "webhook_secret",
                              "api_url"}
        assert creds["api_url"] == f"http://127.0.0.1:{port}"
        gh = GitHub(AppAuthStrategy(str(creds["app_id"]), creds["private_key_pem"]),
                    base_url=creds["api_url"])
        assert gh.rest.apps.get_authenticated().parsed_data.id == creds["app_id"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
