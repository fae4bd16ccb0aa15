from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from githubkit import AppAuthStrategy, GitHub

from tests.emulator.fixture import Emulator, emulator  # noqa: F401 - pytest fixture


@dataclass
class Receiver:
    """A stand-in App endpoint that checks signatures the way the App must."""

    secret: str = ""
    status: int = 202
    received: list[dict] = field(default_factory=list)
    url: str = ""

    def events(self) -> list[tuple[str, str | None]]:
        return [(r["event"], r["payload"].get("action")) for r in self.received]


@pytest.fixture
def receiver(emulator: Emulator) -> Iterator[Receiver]:  # noqa: F811
    rec = Receiver(secret=emulator.credentials["webhook_secret"])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            expected = "sha256=" + hmac.new(rec.secret.encode(), body, hashlib.sha256).hexdigest()
            valid = hmac.compare_digest(expected, self.headers.get("X-Hub-Signature-256", ""))
            rec.received.append({"event": self.headers["X-GitHub-Event"],
                                 "headers": dict(self.headers), "payload": json.loads(body),
                                 "valid": valid})
            self.send_response(rec.status if valid else 401)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/webhooks"
    emulator.set_webhook_url(rec.url)
    yield rec
    server.shutdown()
    server.server_close()


@pytest.fixture
def app_gh(emulator: Emulator) -> Iterator[GitHub]:  # noqa: F811
    creds = emulator.credentials
    gh = GitHub(AppAuthStrategy(str(creds["app_id"]), creds["private_key_pem"]),
                base_url=emulator.url, auto_retry=False)
    with gh:
        yield gh


@pytest.fixture
def repo(emulator: Emulator) -> dict:  # noqa: F811
    return emulator.create_repo(
        "octo", "demo",
        {"README.md": "# demo\n", "src/app.py": "print('hello')\n", "docs/a.md": "a\n"},
    )


@pytest.fixture
def gh(app_gh: GitHub, repo: dict) -> GitHub:
    """A client authenticated as the installation that covers octo/demo."""
    return app_gh.with_auth(app_gh.auth.as_installation(repo["installation_id"]))


@pytest.fixture
def token(app_gh: GitHub, repo: dict) -> str:
    resp = app_gh.rest.apps.create_installation_access_token(repo["installation_id"])
    return resp.parsed_data.token


@pytest.fixture
def raw(emulator: Emulator, token: str) -> Iterator[httpx.Client]:  # noqa: F811
    """Plain HTTP with an installation token, for requests githubkit would not send."""
    with httpx.Client(base_url=emulator.url, headers={"Authorization": f"token {token}"},
                      timeout=30) as client:
        yield client
