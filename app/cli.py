"""The `shipcrew` command: serve, web, worker, run, audit, register."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the offline commands (run, audit) never load the App's settings
    from app.settings import Settings

# Each command imports what it needs when it runs (`shipcrew audit` pays for no web stack,
# settings or logging).


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
    from app.github import read_identity

    identity = read_identity(settings)  # on failure only loop protection waits for APP_SLUG
    return settings.model_copy(update={"app_slug": identity.slug}) if identity else settings


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def cmd_serve(args: argparse.Namespace) -> int:
    from app.embedded import EmbeddedRedis
    from app.main import create_app
    from app.server import serve
    from app.supervise import Workers
    from app.web.register import serve_setup, unregistered

    if unregistered():  # no App yet: serve /setup (GitHub's manifest flow) until there is one
        return serve_setup(args.host, args.port)
    settings = _settings_or_exit()
    _setup_logging(settings)
    embedded = None
    if not settings.redis_url:
        embedded = EmbeddedRedis(settings.state_dir)
        settings = settings.model_copy(update={"redis_url": embedded.start()})
        import logging

        logging.getLogger("shipcrew").info("embedded redis-server started under %s",
                                           settings.state_dir)
    settings = _resolve_slug(settings)
    env = {**os.environ, "REDIS_URL": str(settings.redis_url)}
    if settings.app_slug:
        env["APP_SLUG"] = settings.app_slug
    workers = Workers(args.workers, env).start()
    # uvicorn re-raises the stop signal once it has shut down; turn it into a normal exit
    # so the workers and the embedded Redis are stopped below.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _exit_cleanly)
    status = 0
    try:
        serve(create_app(settings), args.host, args.port)
    except SystemExit as exc:  # 0 from a stop signal; uvicorn exits 3 when the port is taken
        status = exc.code if isinstance(exc.code, int) else 1
    finally:
        workers.stop()
        if embedded:
            embedded.stop()
    return status


def cmd_web(args: argparse.Namespace) -> int:
    from app.main import create_app
    from app.server import serve

    settings = _settings_or_exit()
    if not settings.redis_url:
        print("shipcrew: configuration error: REDIS_URL: not set", file=sys.stderr)
        return 2
    _setup_logging(settings)
    settings = _resolve_slug(settings)
    serve(create_app(settings), args.host, args.port)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from app.worker import run_worker

    settings = _settings_or_exit()
    if not settings.redis_url:
        print("shipcrew: configuration error: REDIS_URL: not set", file=sys.stderr)
        return 2
    _setup_logging(settings)
    settings = _resolve_slug(settings)
    if settings.app_slug:  # jobs read the settings from the environment
        os.environ["APP_SLUG"] = settings.app_slug
    return run_worker(str(settings.redis_url), args.queues, burst=args.burst, fork=args.fork,
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

        print(render_text(result, args.out))
    return 1 if result["verdict"] == "fail" else 0


def cmd_audit(args: argparse.Namespace) -> int:
    # A short run in a fresh process: the cyclic GC would only walk the modules being imported,
    # and tearing the interpreter down frees nothing the OS does not free at exit.
    import gc

    gc.disable()
    from jobs.auditor.cli import cli_audit

    code = cli_audit(args.path, args.format, args.policy or [])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def cmd_register(args: argparse.Namespace) -> int:
    from app.web.register import cli_register

    return cli_register(args)


def cmd_environments(args: argparse.Namespace) -> int:
    from app.environments import run

    token = args.token or os.environ.get("GITHUB_TOKEN", "")
    app_id = args.app_id or os.environ.get("APP_ID", "")
    if not token or not str(app_id).isdigit():
        print("shipcrew environments: needs an admin's token (--token or GITHUB_TOKEN) and "
              "the App's id (--app-id or APP_ID)", file=sys.stderr)
        return 2
    text = args.config.read_text() if args.config else None
    code, out = run(args.repo, args.action, token=token, api_url=args.api_url or os.environ.get(
        "GITHUB_API_URL", "https://api.github.com"), app_id=int(app_id),
        app_slug=args.app_slug or os.environ.get("APP_SLUG", "shipcrew"), config_text=text,
        as_json=args.json)
    print(out, file=sys.stdout if code == 0 else sys.stderr)
    return code


def _columns() -> int:
    """What shutil.get_terminal_size() answers, without importing shutil."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


class _Parser(argparse.ArgumentParser):
    """argparse's formatter asks shutil for the terminal's width, and shutil imports bz2,
    lzma and zlib: ~10% of a `shipcrew audit` start. The width is found here instead."""

    def _get_formatter(self) -> argparse.HelpFormatter:
        return argparse.HelpFormatter(prog=self.prog, width=_columns() - 2)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="shipcrew", description=__doc__)
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

    run = sub.add_parser("run", help="the crew offline on a local checkout (a dry run "
                         "unless --out)")
    run.add_argument("path", type=Path)
    run.add_argument("--json", action="store_true")
    run.add_argument("--out", type=Path, default=None,
                     help="write the generated files under this directory (PATH itself to "
                          "write into the checkout); without it nothing is written")
    run.set_defaults(func=cmd_run)

    audit = sub.add_parser("audit", help="policy verdict on every file under PATH")
    audit.add_argument("path", type=Path)
    audit.add_argument("--format", choices=["text", "json", "sarif"], default="text")
    audit.add_argument("--policy", type=Path, action="append")
    audit.set_defaults(func=cmd_audit)

    register = sub.add_parser("register", help="create the GitHub App from app.yml by GitHub's "
                              "manifest flow; writes .env and prints the install link")
    register.add_argument("--org", help="register under this organization (default: your user)")
    register.add_argument("--url", help="the App's public base URL; webhooks go to URL/webhooks")
    register.add_argument("--host", default="127.0.0.1")
    register.add_argument("--port", type=int, default=3000)
    register.add_argument("--manifest", type=Path, default=Path("app.yml"))
    register.add_argument("--env-file", type=Path, default=Path(".env"))
    register.add_argument("--api-url", help="GitHub's API (default: GITHUB_API_URL or github.com)")
    register.add_argument("--github-url", help="GitHub's web origin (default: from the API URL)")
    register.set_defaults(func=cmd_register)

    envs = sub.add_parser("environments", help="create the GitHub Environments the config "
                          "names, with reviewers and shipcrew's protection rule (admin token)")
    envs.add_argument("action", choices=["plan", "apply"])
    envs.add_argument("repo", help="OWNER/NAME")
    envs.add_argument("--token", default=None, help="an admin's token (default: GITHUB_TOKEN)")
    envs.add_argument("--api-url", default=None)
    envs.add_argument("--app-id", default=None)
    envs.add_argument("--app-slug", default=None)
    envs.add_argument("--config", type=Path, default=None,
                      help="a local .github/shipcrew.yml (default: the repo's default branch)")
    envs.add_argument("--json", action="store_true")
    envs.set_defaults(func=cmd_environments)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
