"""`make serve` without an App: the playground as a newcomer meets it (a subprocess)."""

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

from tests.app.test_serve import free_port

ROOT = Path(__file__).parents[1]


def _env(tmp_path: Path, app_port: int, emu_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("APP_", "PRIVATE_KEY", "WEBHOOK_", "GITHUB_", "REDIS_URL"))}
    return {**env, "PORT": str(app_port), "EMULATOR_PORT": str(emu_port),
            "STATE_DIR": str(tmp_path / "state"), "PYTHONPATH": str(ROOT)}


def test_a_taken_port_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        port = held.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "tests.playground"], cwd=tmp_path,
                             env=_env(tmp_path, port, free_port()), capture_output=True,
                             text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"playground: port {port} (PORT) is not free: Address already in use; "
        "set PORT=another port"]


@pytest.mark.slow
def test_the_printed_first_pr_works_and_ctrl_c_is_clean(tmp_path: Path) -> None:
    app_port, emu_port = free_port(), free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.playground"], cwd=tmp_path,
                            env=_env(tmp_path, app_port, emu_port), stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True, start_new_session=True)
    assert proc.stderr is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any("Ctrl-C stops" in x for x in lines):
            lines.append(proc.stderr.readline())
        [curl] = [x.strip() for x in lines if x.strip().startswith("curl -s") and "-d" in x]
        made = subprocess.run(["bash", "-c", curl], capture_output=True, text=True, timeout=60)
        assert json.loads(made.stdout)["number"] == 1, made
        # The App took the pull request's webhook (the crew's work itself is tested in e2e).
        hooks = httpx.get(f"http://127.0.0.1:{emu_port}/_emulator/deliveries").json()
        assert [(d["action"], d["status_code"]) for d in hooks
                if d["event"] == "pull_request"] == [("opened", 202)]
        assert httpx.get(f"http://127.0.0.1:{app_port}/").status_code == 200  # status page
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        rest = proc.stderr.read()
        proc.stderr.close()
        code = proc.wait(timeout=30)
    assert code == 0
    assert "Traceback" not in rest, rest
