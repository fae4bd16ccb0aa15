"""A local playground: the App served against the bundled GitHub emulator.

`make serve` runs this when no GitHub App is configured (no APP_ID, no .env). The
emulator listens on :3001 and delivers webhooks to the App on :3000; drive it with its
control API (tests/emulator/README.md), e.g.:

    curl -s localhost:3001/_emulator/repos/demo/shop/pulls -d \
      '{"head": "feature", "files": {"app.py": "print(2)\\n"}, "title": "Try", "user": "me"}'
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from tests.emulator.fixture import Emulator

DEMO_FILES = {
    "README.md": "# shop\n",
    "pyproject.toml": '[project]\nname = "shop"\nversion = "0.1.0"\n'
                      'requires-python = ">=3.12"\ndependencies = ["fastapi", "uvicorn"]\n',
    "app/main.py": "from fastapi import FastAPI\n\napp = FastAPI()\n\n\n"
                   "@app.get('/')\ndef root() -> dict:\n    return {'ok': True}\n",
}


def main() -> int:
    app_port = int(os.environ.get("PORT", "3000"))
    emu_port = int(os.environ.get("EMULATOR_PORT", "3001"))
    state = Path(os.environ.get("STATE_DIR", ".shipcrew"))
    state.mkdir(parents=True, exist_ok=True)
    emu = Emulator(port=emu_port).start(f"http://127.0.0.1:{app_port}/webhooks")
    creds = emu.credentials
    creds_file = state / "emulator.json"
    creds_file.write_text(json.dumps(creds, indent=2))
    creds_file.chmod(0o600)
    emu.create_repo("demo", "shop", DEMO_FILES)
    os.environ.update(APP_ID=str(creds["app_id"]), PRIVATE_KEY=creds["private_key_pem"],
                      WEBHOOK_SECRET=creds["webhook_secret"], GITHUB_API_URL=creds["api_url"],
                      APP_SLUG=creds["app_slug"])
    print(f"playground: GitHub emulator at {emu.url} (repo demo/shop), App at "
          f"http://127.0.0.1:{app_port}; credentials in {creds_file}", file=sys.stderr)
    from app.cli import main as shipcrew

    try:
        return shipcrew(["serve", "--port", str(app_port)])
    finally:
        emu.stop()


if __name__ == "__main__":
    raise SystemExit(main())
