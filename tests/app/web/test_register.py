"""`shipcrew register` as a newcomer uses it: a real browser, the emulator as GitHub, then the
App started from the `.env` it wrote, installed from the printed link, and working on a PR."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.app.test_serve import free_port, wait_ready
from tests.browser import browser, click, screenshot, wait_text  # noqa: F401 - fixture
from tests.emulator.fixture import Emulator, emulator  # noqa: F401 - pytest fixture

ROOT = Path(__file__).parents[3]
SHIPCREW = [sys.executable, "-m", "app.cli"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("APP_", "PRIVATE_KEY", "WEBHOOK_", "GITHUB_", "REDIS_URL"))}
    return {**env, "PYTHONPATH": str(ROOT)}


def _wait_line(proc: subprocess.Popen[str], needle: str, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if needle in line:
            return line
        if not line and proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(f"exited {proc.returncode}: {err}")
    raise AssertionError(f"no {needle!r} within {timeout}s")


@pytest.mark.slow
def test_clone_to_registered_installed_app(emulator: Emulator, browser: object,  # noqa: F811
                                           tmp_path: Path) -> None:
    emulator.control("POST", "/repos", {"owner": "octo", "name": "demo", "install": False,
                                        "files": {"app.py": "print(1)\n"}})
    app_port, reg_port = free_port(), free_port()
    public = f"http://127.0.0.1:{app_port}"
    reg = subprocess.Popen(
        [*SHIPCREW, "register", "--url", public, "--port", str(reg_port),
         "--manifest", str(ROOT / "app.yml"), "--api-url", emulator.url],
        cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    serve = None
    try:
        _wait_line(reg, "in your browser")
        browser.get(f"http://127.0.0.1:{reg_port}/")  # type: ignore[attr-defined]
        wait_text(browser, "Webhooks will go to " + public + "/webhooks")
        click(browser, "#register")  # posts the manifest to the emulator's settings/apps/new
        assert "workflows: write" in wait_text(browser, "Create GitHub App")
        click(browser, "#create")  # GitHub redirects back with the code
        wait_text(browser, "Registered shipcrew-test")
        screenshot(browser, "register-done.png")
        link = browser.find_element("css selector", "#install").get_attribute("href")  # type: ignore[attr-defined]
        out, err = reg.communicate(timeout=20)
        assert reg.returncode == 0, err
        assert f"Install it: {emulator.url}/apps/shipcrew-test/installations/new" in out
        assert link == f"{emulator.url}/apps/shipcrew-test/installations/new"

        # What GitHub's conversion returned is what .env holds, the key private to its owner.
        env = dict(line.split("=", 1) for line in (tmp_path / ".env").read_text().splitlines())
        creds = emulator.credentials
        assert env["APP_ID"] == str(creds["app_id"]) and env["APP_SLUG"] == "shipcrew-test"
        assert env["WEBHOOK_SECRET"] == creds["webhook_secret"]
        assert env["GITHUB_API_URL"] == emulator.url
        key = tmp_path / env["PRIVATE_KEY_PATH"]
        assert key.read_text() == creds["private_key_pem"]
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
        manifest = yaml.safe_load((ROOT / "app.yml").read_text())
        assert emulator.store.app.permissions == manifest["default_permissions"]
        assert emulator.store.app.events == manifest["default_events"]
        assert emulator.store.webhook_url == f"{public}/webhooks"

        # Start the App from that .env alone, install it from the link, open a PR.
        serve = subprocess.Popen([*SHIPCREW, "serve", "--port", str(app_port), "--workers", "1"],
                                 cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        wait_ready(public, serve)  # type: ignore[arg-type]
        browser.get(link)  # type: ignore[attr-defined]
        click(browser, "#install")
        assert "octo/demo" in wait_text(browser, "Installed on:")
        installs = [d for d in emulator.deliveries() if d["event"] == "installation"]
        assert [(d["action"], d["status_code"]) for d in installs] == [("created", 202)]
        pr = emulator.open_pull("octo", "demo", "feature", {"app.py": "print(2)\n"}, user="alice")
        deadline = time.monotonic() + 60
        names: set[str] = set()
        while time.monotonic() < deadline and "shipcrew / policy" not in names:
            runs = emulator.state("octo", "demo")["check_runs"]
            names = {r["name"] for r in runs if r["head_sha"] == pr["head_sha"]
                     and r["status"] == "completed"}
            time.sleep(0.3)
        assert "shipcrew / policy" in names
    finally:
        for proc in (reg, serve):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=20)


def test_register_refuses_a_taken_port(tmp_path: Path) -> None:
    import socket

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        port = held.getsockname()[1]
        proc = subprocess.run([*SHIPCREW, "register", "--port", str(port), "--manifest",
                               str(ROOT / "app.yml")], cwd=tmp_path, env=_env(),
                              capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith(
        f"shipcrew register: cannot listen on 127.0.0.1:{port}:")
    assert not (tmp_path / ".env").exists()


def test_callback_with_a_forged_state_writes_nothing(emulator: Emulator,  # noqa: F811
                                                     tmp_path: Path) -> None:
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from app.web.register import Registration, manifest

    data = manifest((ROOT / "app.yml").read_text(), "https://ci.example.com", "http://x/cb")
    reg = Registration(data, emulator.url, emulator.url, tmp_path / ".env")
    code = emulator.control("POST", "/app-manifests", {"manifest": data})["code"]
    client = TestClient(Starlette(routes=reg.routes()))  # its client is not on loopback
    assert client.get("/").status_code == 403
    assert client.get("/callback", params={"code": code, "state": reg.state}).status_code == 403
    reg.local_only = False
    assert client.get("/callback", params={"code": code, "state": "forged"}).status_code == 400
    assert not (tmp_path / ".env").exists()
    bad = client.get("/callback", params={"code": "nope", "state": reg.state})
    assert bad.status_code == 502 and "code exchange refused: HTTP 404" in bad.text
    assert client.get("/callback", params={"code": code, "state": reg.state}).status_code == 200
    assert (tmp_path / ".env").exists()
    assert httpx.post(f"{emulator.url}/app-manifests/{code}/conversions").status_code == 404


def _form(html: str) -> tuple[str, dict[str, str]]:
    """The first form of a page: its action and its named inputs."""
    from html import unescape

    action = unescape(re.search(r"<form method='post' action='([^']*)'", html).group(1))  # type: ignore[union-attr]
    fields = {m.group(1): unescape(m.group(2))
              for m in re.finditer(r"name='([^']+)' value='([^']*)'", html)}
    return action, fields


def test_serve_without_an_app_registers_one_at_setup(emulator: Emulator,  # noqa: F811
                                                     tmp_path: Path) -> None:
    (tmp_path / "app.yml").write_text((ROOT / "app.yml").read_text())
    port = free_port()
    proc = subprocess.Popen([*SHIPCREW, "serve", "--port", str(port)], cwd=tmp_path,
                            env={**_env(), "GITHUB_API_URL": emulator.url,
                                 "PUBLIC_URL": "https://crew.example.com"},
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        deadline, page = time.monotonic() + 30, None
        while page is None and time.monotonic() < deadline:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/setup")
            except httpx.HTTPError:
                time.sleep(0.1)
        assert page is not None and page.status_code == 200
        action, fields = _form(page.text)
        assert json.loads(fields["manifest"])["hook_attributes"]["url"] == (
            "https://crew.example.com/webhooks")
        assert json.loads(fields["manifest"])["redirect_url"] == (
            f"http://127.0.0.1:{port}/callback")  # where it was browsed
        confirm = httpx.post(action, data=fields)
        action, fields = _form(confirm.text)
        back = httpx.post(f"{emulator.url}{action}", data=fields)
        assert back.status_code == 302
        done = httpx.get(back.headers["location"])
        assert "Registered shipcrew-test" in done.text
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Open http://127.0.0.1:" in err and "/setup (loopback only)" in err
    assert "Install it: " in err and "start shipcrew again" in err
    assert f"APP_ID={emulator.credentials['app_id']}" in (tmp_path / ".env").read_text()
