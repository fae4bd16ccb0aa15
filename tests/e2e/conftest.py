"""The App as a user runs it, against the GitHub emulator.

`crew` starts the real web app on a real port (uvicorn), points the emulator's webhook
at it, and runs real RQ workers over real Redis; the jobs call the emulator through
githubkit with the App's credentials, exactly as they would call GitHub.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import uvicorn
from rq import SimpleWorker

from app import github
from app.main import create_app
from app.queue import queues
from app.settings import get_settings
from tests.emulator.fixture import Emulator, emulator  # noqa: F401 - pytest fixture


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Crew:
    def __init__(self, emu: Emulator, conn: redis.Redis) -> None:
        self.emulator = emu
        self.conn = conn
        self.settings = get_settings()
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(create_app(self.settings, conn), host="127.0.0.1", port=port,
                                access_log=False, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True, name="shipcrew")

    def start(self) -> Crew:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("shipcrew web did not start")
            time.sleep(0.01)
        self.emulator.set_webhook_url(self.url + "/webhooks")
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def pending(self) -> int:
        return sum(q.count for q in queues(self.conn))

    def work(self, max_rounds: int = 20) -> None:
        """Run workers until no job is left (jobs' GitHub calls may deliver new events)."""
        for _ in range(max_rounds):
            if not self.pending():
                return
            SimpleWorker(queues(self.conn), connection=self.conn).work(
                burst=True, logging_level="WARNING")
        raise AssertionError(f"jobs kept coming after {max_rounds} rounds")

    def audit(self, kind: str | None = None) -> list[dict[str, Any]]:
        from app.audit import AuditTrail

        return AuditTrail(self.conn).entries(kind=kind)


@pytest.fixture
def crew(emulator: Emulator, redis_conn: redis.Redis, redis_url: str,  # noqa: F811
         monkeypatch: pytest.MonkeyPatch) -> Iterator[Crew]:
    creds = emulator.credentials
    env = {"APP_ID": str(creds["app_id"]), "PRIVATE_KEY": creds["private_key_pem"],
           "WEBHOOK_SECRET": creds["webhook_secret"], "GITHUB_API_URL": creds["api_url"],
           "APP_SLUG": creds["app_slug"], "REDIS_URL": redis_url}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("PRIVATE_KEY_PATH", raising=False)
    github.reset()
    c = Crew(emulator, redis_conn).start()
    try:
        yield c
    finally:
        c.stop()
        github.reset()
