"""A local playground: the App served against the bundled GitHub emulator.

`make serve` runs this when no GitHub App is configured (no APP_ID, no .env). The
emulator listens on EMULATOR_PORT (3001) and delivers webhooks to the App on PORT (3000);
once both answer it prints a copy-paste first pull request and where to look. Drive it
with the emulator's control API (tests/emulator/README.md). A taken port is one line and
exit 2; Ctrl-C stops the App, its workers, the embedded Redis and the emulator.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

from tests.emulator.fixture import Emulator

DEMO_FILES = {
    "README.md": "# shop\n",
    "pyproject.toml": '[project]\nname = "shop"\nversion = "0.1.0"\n'
                      'requires-python = ">=3.12"\ndependencies = ["fastapi", "uvicorn"]\n',
    "app/main.py": "from fastapi import FastAPI\n\napp = FastAPI()\n\n\n"
                   "@app.get('/')\ndef root() -> dict:\n    return {'ok': True}\n",
}


FIRST_PR = {"head": "feature", "title": "Try shipcrew", "user": "me",
            "files": {"app/health.py": 'def health() -> dict:\n    return {"status": "ok"}\n'}}


def port_problem(port: int, name: str) -> str | None:
    """One line when `port` cannot be listened on (taken), else None."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            return (f"playground: port {port} ({name}) is not free: {exc.strerror}; "
                    f"set {name}=another port")
    return None


def banner(app_port: int, emu_url: str) -> str:
    app = f"http://127.0.0.1:{app_port}"
    body = json.dumps(FIRST_PR)
    return "\n".join([
        "",
        f"playground ready: shipcrew at {app}, GitHub emulator at {emu_url} (repo demo/shop)",
        "Open a first pull request (copy-paste):",
        f"  curl -s {emu_url}/_emulator/repos/demo/shop/pulls -d '{body}'",
        "Then watch:",
        f"  {app}/   the status page: deliveries, jobs, decisions",
        f"  curl -s {emu_url}/_emulator/repos/demo/shop/state | python3 -m json.tool",
        "           check_runs, the crew's commits and comments on the PR",
        "Ctrl-C stops everything.",
        ""])


def _announce_when_ready(app_port: int, emu_url: str) -> None:
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{app_port}/readyz", timeout=1).status_code == 200:
                print(banner(app_port, emu_url), file=sys.stderr, flush=True)
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)


def main() -> int:
    app_port = int(os.environ.get("PORT", "3000"))
    emu_port = int(os.environ.get("EMULATOR_PORT", "3001"))
    for port, name in ((app_port, "PORT"), (emu_port, "EMULATOR_PORT")):
        if problem := port_problem(port, name):
            print(problem, file=sys.stderr)
            return 2
    state = Path(os.environ.get("STATE_DIR", ".shipcrew"))
    state.mkdir(parents=True, exist_ok=True)
    emu = Emulator(port=emu_port).start(f"http://127.0.0.1:{app_port}/webhooks")
    try:
        creds = emu.credentials
        creds_file = state / "emulator.json"
        creds_file.write_text(json.dumps(creds, indent=2))
        creds_file.chmod(0o600)
        emu.create_repo("demo", "shop", DEMO_FILES)
        os.environ.update(APP_ID=str(creds["app_id"]), PRIVATE_KEY=creds["private_key_pem"],
                          WEBHOOK_SECRET=creds["webhook_secret"],
                          GITHUB_API_URL=creds["api_url"], APP_SLUG=creds["app_slug"])
        print(f"playground: starting; credentials in {creds_file}", file=sys.stderr)
        threading.Thread(target=_announce_when_ready, args=(app_port, emu.url),
                         daemon=True).start()
        from app.cli import main as shipcrew

        return shipcrew(["serve", "--port", str(app_port)])
    except KeyboardInterrupt:  # Ctrl-C before the App installed its own handler
        return 0
    finally:
        emu.stop()


if __name__ == "__main__":
    raise SystemExit(main())
