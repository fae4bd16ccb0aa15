"""`shipcrew serve` as a user starts it: a subprocess with no REDIS_URL."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app.webhooks import sign
from tests.conftest import FIXTURES, WEBHOOK_SECRET


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_children(parent: int) -> list[int]:
    """PIDs of redis-server processes started by `parent`."""
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True).stdout
    rows = [line.split(None, 2) for line in out.splitlines()]
    return [int(r[0]) for r in rows if len(r) == 3 and int(r[1]) == parent and "redis" in r[2]]


def worker_children(parent: int) -> list[int]:
    out = subprocess.run(["ps", "-eo", "pid=,ppid=,args="], capture_output=True, text=True).stdout
    rows = [line.split(None, 2) for line in out.splitlines()]
    return [int(r[0]) for r in rows
            if len(r) == 3 and int(r[1]) == parent and "app.cli worker" in r[2]]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "shipcrew serve exited early"
        try:
            if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("shipcrew serve did not become ready")


@pytest.fixture
def serve_env(private_key_pem: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(APP_ID="1", PRIVATE_KEY=private_key_pem, WEBHOOK_SECRET=WEBHOOK_SECRET,
               APP_SLUG="shipcrew-test", STATE_DIR=str(tmp_path / "state"))
    return env


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_embedded_redis_end_to_end(serve_env: dict[str, str], tmp_path: Path,
                                         stop: signal.Signals) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", "1"],
        env=serve_env, cwd=tmp_path, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, proc)
        servers = redis_children(proc.pid)
        assert len(servers) == 1, "no embedded redis-server was started"
        body = next((FIXTURES / "webhooks/ping").glob("*.json")).read_bytes()
        resp = httpx.post(url + "/webhooks", content=body, headers={
            "X-GitHub-Event": "ping", "X-GitHub-Delivery": "ping-1",
            "X-Hub-Signature-256": sign(body, WEBHOOK_SECRET)})
        assert resp.status_code == 202
        assert httpx.get(url + "/readyz").status_code == 200
        if stop == signal.SIGTERM:  # a worker that dies is replaced
            [worker] = worker_children(proc.pid)
            os.kill(worker, signal.SIGKILL)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                now = worker_children(proc.pid)
                if now and now != [worker]:
                    break
                time.sleep(0.2)
            assert len(now) == 1 and now != [worker], "the dead worker was not replaced"
    finally:
        proc.send_signal(stop)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr.decode()[-2000:]
    deadline = time.monotonic() + 5
    while alive(servers[0]) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(servers[0]), "redis-server left behind"
    # Logs are JSON lines and the private key never appears in them.
    log = stderr.decode()
    assert "PRIVATE KEY" not in log and WEBHOOK_SECRET not in log
    for line in filter(None, log.splitlines()):
        json.loads(line)


def test_serve_without_credentials_says_which(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in {"APP_ID", "PRIVATE_KEY", "PRIVATE_KEY_PATH", "WEBHOOK_SECRET"}}
    (tmp_path / ".env").write_text("LOG_LEVEL=INFO\n")  # configured, but without an App id
    proc = subprocess.run([sys.executable, "-m", "app.cli", "serve"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "shipcrew: configuration error: APP_ID: not set"


def test_malformed_setting_is_named(tmp_path: Path) -> None:
    env = {**os.environ, "APP_ID": "not-a-number"}
    proc = subprocess.run([sys.executable, "-m", "app.cli", "worker"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith("shipcrew: configuration error: APP_ID:")


def test_serve_on_a_taken_port_exits_non_zero_and_cleans_up(serve_env: dict[str, str],
                                                            tmp_path: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        port = held.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "app.cli", "serve", "--port", str(port),
                               "--workers", "1"], env=serve_env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=90)
    assert proc.returncode != 0  # uvicorn's startup failure (3)
    assert "address already in use" in proc.stderr
    assert not (tmp_path / "state" / "redis.sock").exists()  # the embedded Redis stopped
