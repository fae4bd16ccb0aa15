"""Run the emulator in-process (a uvicorn server on a background thread) for pytest."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from tests.emulator.api import Runtime
from tests.emulator.app import create_app
from tests.emulator.state import Store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Emulator:
    """An emulated GitHub on 127.0.0.1; `url` is its API base (githubkit `base_url`)."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port()
        self.url = f"http://{host}:{self.port}"
        self.app = create_app()
        self.rt: Runtime = self.app.state.rt
        self.store: Store = self.rt.store
        self.store.base_url = self.url
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.http = httpx.Client(base_url=self.url, timeout=60)

    def start(self, webhook_url: str | None = None) -> Emulator:
        self.store.webhook_url = webhook_url
        config = uvicorn.Config(self.app, host=self.host, port=self.port, access_log=False,
                                log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True,
                                        name="github-emulator")
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("GitHub emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.rt.hooks.close()
        self.http.close()

    @property
    def credentials(self) -> dict[str, Any]:
        a = self.store.app
        return {"app_id": a.id, "app_slug": a.slug, "private_key_pem": a.private_key_pem,
                "webhook_secret": a.webhook_secret, "api_url": self.url}

    @property
    def bot_login(self) -> str:
        return self.store.app.bot_login

    # control API helpers: each returns the control call's JSON and raises on HTTP errors
    def control(self, method: str, path: str, body: dict | None = None) -> Any:
        resp = self.http.request(method, f"/_emulator{path}", json=body)
        if resp.status_code >= 400:
            raise AssertionError(f"{method} {path} -> {resp.status_code}: {resp.text}")
        return resp.json()

    def set_webhook_url(self, url: str | None) -> None:
        self.control("POST", "/config", {"webhook_url": url})

    def configure(self, **settings: Any) -> Any:
        return self.control("POST", "/config", settings)

    def create_repo(self, owner: str, name: str, files: dict[str, str] | None = None,
                    **extra: Any) -> Any:
        return self.control("POST", "/repos",
                            {"owner": owner, "name": name, "files": files or {}, **extra})

    def open_pull(self, owner: str, repo: str, head: str, files: dict[str, str | None],
                  **extra: Any) -> Any:
        body = {"head": head, "files": files, "title": extra.pop("title", f"Update {head}"),
                **extra}
        return self.control("POST", f"/repos/{owner}/{repo}/pulls", body)

    def push(self, owner: str, repo: str, number: int, files: dict[str, str | None],
             **extra: Any) -> Any:
        return self.control("POST", f"/repos/{owner}/{repo}/pulls/{number}/push",
                            {"files": files, **extra})

    def comment(self, owner: str, repo: str, number: int, body: str, user: str,
                permission: str | None = None) -> Any:
        return self.control("POST", f"/repos/{owner}/{repo}/issues/{number}/comments",
                            {"body": body, "user": user, "permission": permission})

    def deploy(self, owner: str, repo: str, env: str, **body: Any) -> Any:
        return self.control("POST", f"/repos/{owner}/{repo}/environments/{env}/deploy", body)

    def faults(self, **faults: Any) -> Any:
        return self.control("POST", "/faults", faults)

    def state(self, owner: str, repo: str) -> Any:
        return self.control("GET", f"/repos/{owner}/{repo}/state")

    def requests(self) -> Any:
        return self.control("GET", "/requests")

    def clear_requests(self) -> Any:
        return self.control("DELETE", "/requests")

    def deliveries(self) -> Any:
        return self.control("GET", "/deliveries")


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh emulated GitHub for one test (its App has no webhook URL until set)."""
    emu = Emulator().start()
    try:
        yield emu
    finally:
        emu.stop()
