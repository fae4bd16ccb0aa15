"""`python -m tests.emulator --port P --webhook-url URL --credentials FILE`."""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path

import uvicorn

from tests.emulator.app import create_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.emulator",
                                     description="Run the GitHub emulator.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3001)
    parser.add_argument("--webhook-url", default=None, help="where the App receives webhooks")
    parser.add_argument("--credentials", type=Path, default=None,
                        help="write the App's credentials (JSON) to this file")
    parser.add_argument("--public-url", default=None,
                        help="API base URL the App should use (default http://HOST:PORT)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    app = create_app()
    store = app.state.rt.store
    store.base_url = args.public_url or f"http://{args.host}:{args.port}"
    store.webhook_url = args.webhook_url
    creds = {"app_id": store.app.id, "app_slug": store.app.slug,
             "private_key_pem": store.app.private_key_pem,
             "webhook_secret": store.app.webhook_secret, "api_url": store.base_url}
    if args.credentials:
        args.credentials.write_text(json.dumps(creds, indent=2))
        os.chmod(args.credentials, 0o600)
        logging.info("credentials written to %s", args.credentials)
    logging.info("GitHub emulator at %s, App %s (id %s)", store.base_url, store.app.slug,
                 store.app.id)
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
