"""The `shipcrew` command: serve, web, worker, run, audit."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the offline commands (run, audit) never load the App's settings
    from app.settings import Settings

log = logging.getLogger("shipcrew")


def _settings_or_exit(**overrides: object) -> Settings:
    from app.settings import SettingsError, load_settings

    try:
        settings = load_settings(**overrides)
        settings.require_app()
    except SettingsError as exc:
        print(f"shipcrew: configuration error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return settings


def _setup_logging(settings: Settings) -> None:
    from app.logs import setup_logging

    secrets = [settings.private_key_pem()]
    for value in (settings.webhook_secret, settings.openai_api_key):
        if value is not None:
            secrets.append(value.get_secret_value())
    setup_logging(settings.log_level, secrets)


def _resolve_slug(settings: Settings) -> Settings:
    """Learn our bot's login once at start-up (never on the webhook path)."""
    if settings.app_slug:
        return settings
    from app.github import GitHubApp

    try:
        app = GitHubApp(settings).app_client().rest.apps.get_authenticated().parsed_data
        slug = app.slug if app else None
    except Exception as exc:  # noqa: BLE001 - any failure only costs loop protection
        log.warning("could not read the App's slug (set APP_SLUG): %s", exc)
        return settings
    return settings.model_copy(update={"app_slug": slug})


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.embedded import EmbeddedRedis
    from app.main import create_app
    from app.supervise import Workers

    settings = _settings_or_exit()
    _setup_logging(settings)
    embedded = None
    if not settings.redis_url:
        embedded = EmbeddedRedis(settings.state_dir)
        settings = settings.model_copy(update={"redis_url": embedded.start()})
        log.info("embedded redis-server started under %s", settings.state_dir)
    settings = _resolve_slug(settings)
    env = {**os.environ, "REDIS_URL": str(settings.redis_url)}
    if settings.app_slug:
        env["APP_SLUG"] = settings.app_slug
    workers = Workers(args.workers, env).start()
    # uvicorn re-raises the stop signal once it has shut down; turn it into a normal exit
    # so the workers and the embedded Redis are stopped below.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_cleanly)
    try:
        uvicorn.run(create_app(settings), host=args.host, port=args.port, log_config=None,
                    access_log=False)
    except SystemExit:
        pass
    finally:
        workers.stop()
        if embedded:
            embedded.stop()
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    import uvicorn

    from app.main import create_app

    settings = _settings_or_exit()
    if not settings.redis_url:
        print("shipcrew: configuration error: REDIS_URL: not set", file=sys.stderr)
        return 2
    _setup_logging(settings)
    settings = _resolve_slug(settings)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_config=None,
                access_log=False)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from app.worker import run_worker

    settings = _settings_or_exit()
    if not settings.redis_url:
        print("shipcrew: configuration error: REDIS_URL: not set", file=sys.stderr)
        return 2
    _setup_logging(settings)
    return run_worker(settings.redis_url, args.queues, burst=args.burst, fork=args.fork,
                      recovery_interval=settings.delivery_recovery_interval)


def cmd_run(args: argparse.Namespace) -> int:
    from jobs.crew import InputError, run_offline

    if not args.path.is_dir():
        print(f"shipcrew run: {args.path}: not a directory", file=sys.stderr)
        return 2
    try:
        result = run_offline(args.path, args.out)
    except InputError as exc:
        print(f"shipcrew run: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        from jobs.crew import render_text

        print(render_text(result))
    return 1 if result["verdict"] == "fail" else 0


def cmd_audit(args: argparse.Namespace) -> int:
    from jobs.auditor.core import cli_audit

    return cli_audit(args.path, args.format, args.policy or [])


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="shipcrew", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="the App: web + workers (embedded Redis if no REDIS_URL)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--workers", type=int, default=2)
    serve.set_defaults(func=cmd_serve)

    web = sub.add_parser("web", help="the web process only (needs REDIS_URL)")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=3000)
    web.set_defaults(func=cmd_web)

    worker = sub.add_parser("worker", help="a worker process (needs REDIS_URL)")
    worker.add_argument("--queues", nargs="*", default=None,
                        help="queue names in priority order (default: all)")
    worker.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    worker.add_argument("--fork", action=argparse.BooleanOptionalAction, default=None,
                        help="fork a work horse per job (default: see README, measured)")
    worker.set_defaults(func=cmd_worker)

    run = sub.add_parser("run", help="the crew offline on a local checkout")
    run.add_argument("path", type=Path)
    run.add_argument("--json", action="store_true")
    run.add_argument("--out", type=Path, default=None)
    run.set_defaults(func=cmd_run)

    audit = sub.add_parser("audit", help="policy verdict on every file under PATH")
    audit.add_argument("path", type=Path)
    audit.add_argument("--format", choices=["text", "json", "sarif"], default="text")
    audit.add_argument("--policy", type=Path, action="append")
    audit.set_defaults(func=cmd_audit)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
