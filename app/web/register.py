"""Register the GitHub App by GitHub's manifest flow (Probot's convention), no hand-copying.

`shipcrew register` serves a local page whose button posts `app.yml` (as the manifest JSON,
the webhook URL filled in) to GitHub's `settings/apps/new` (or the organization's). The human
confirms on GitHub, GitHub redirects back to `/callback` with a one-time `code`, and the code
is exchanged at `POST /app-manifests/{code}/conversions` for the App's id, slug, private key
and webhook secret, which are written to `.env` (the key to its own file, mode 0600).
The `state` parameter binds the redirect to the page this process served (no forged codes).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.settings import GITHUB_API_URL
from app.web.html import esc, page

ENV_KEYS = ("APP_ID", "APP_SLUG", "WEBHOOK_SECRET", "PRIVATE_KEY_PATH", "GITHUB_API_URL")


class RegistrationError(Exception):
    """One line a human can act on."""


def web_url_for(api_url: str) -> str:
    """GitHub's web origin for an API URL: github.com, a GHES host (…/api/v3), or the same."""
    api_url = api_url.rstrip("/")
    if api_url == GITHUB_API_URL:
        return "https://github.com"
    return api_url.removesuffix("/api/v3")


def new_app_url(web_url: str, org: str | None, state: str) -> str:
    where = f"/organizations/{org}" if org else ""
    return f"{web_url}{where}/settings/apps/new?state={state}"


def install_url(web_url: str, slug: str) -> str:
    return f"{web_url}/apps/{slug}/installations/new"


def manifest(app_yml: str, public_url: str, redirect_url: str) -> dict[str, Any]:
    """app.yml as GitHub's manifest JSON, with this deployment's webhook URL."""
    data = yaml.safe_load(app_yml)
    if not isinstance(data, dict) or not data.get("name"):
        raise RegistrationError("app.yml: not a GitHub App manifest (no `name`)")
    hook = dict(data.get("hook_attributes") or {})
    hook["url"] = f"{public_url.rstrip('/')}/webhooks"
    hook.setdefault("active", True)
    return {**data, "hook_attributes": hook, "redirect_url": redirect_url}


def check_public_url(url: str) -> str | None:
    """A warning when GitHub will not be able to deliver to `url` (None when it looks fine)."""
    if not re.match(r"^https?://[^/\s]+", url):
        raise RegistrationError(f"--url {url!r}: not an http(s) URL")
    if not url.startswith("https://"):
        return "the webhook URL is not HTTPS: github.com delivers only to a public HTTPS URL"
    if re.match(r"^https://(localhost|127\.|\[::1\]|10\.|192\.168\.)", url):
        return "the webhook URL is not public: use a tunnel (see docs/operating.md)"
    return None


def merge_env(existing: str, values: dict[str, str]) -> str:
    """`existing` .env text with `values` set: other lines kept, ours replaced in place."""
    out, seen = [], set()
    for line in existing.splitlines():
        key = line.split("=", 1)[0].strip().removeprefix("export ").strip()
        if key in values:
            if key not in seen:
                out.append(f"{key}={values[key]}")
                seen.add(key)
            continue
        out.append(line)
    out += [f"{k}={v}" for k, v in values.items() if k not in seen]
    return "\n".join(out) + "\n"


def _write_private(path: Path, text: str) -> None:
    """Create or replace `path` readable by its owner only (never briefly world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(text)


def write_credentials(conversion: dict[str, Any], env_file: Path, api_url: str) -> dict[str, str]:
    """The conversion's credentials into `env_file` and a key file beside it; returns values."""
    try:
        app_id, slug = int(conversion["id"]), str(conversion["slug"])
        pem, secret = str(conversion["pem"]), str(conversion["webhook_secret"])
    except (KeyError, TypeError, ValueError) as exc:
        raise RegistrationError(f"GitHub's conversion answer lacks {exc}") from None
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,99}", slug) or "PRIVATE KEY" not in pem:
        raise RegistrationError("GitHub's conversion answer is malformed (slug or key)")
    key_path = env_file.parent / ".shipcrew" / f"{slug}.private-key.pem"
    _write_private(key_path, pem)
    values = {"APP_ID": str(app_id), "APP_SLUG": slug, "WEBHOOK_SECRET": secret,
              "PRIVATE_KEY_PATH": os.path.relpath(key_path, env_file.parent)}
    if api_url.rstrip("/") != GITHUB_API_URL:
        values["GITHUB_API_URL"] = api_url.rstrip("/")
    existing = env_file.read_text() if env_file.exists() else ""
    _write_private(env_file, merge_env(existing, values))
    return values


def exchange(api_url: str, code: str, client: httpx.Client | None = None) -> dict[str, Any]:
    """`POST /app-manifests/{code}/conversions` (no authentication; the code is one-time)."""
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,100}", code):
        raise RegistrationError("the redirect carried a malformed code")
    http = client or httpx.Client(timeout=30)
    try:
        resp = http.post(f"{api_url.rstrip('/')}/app-manifests/{code}/conversions",
                         headers={"Accept": "application/vnd.github+json"})
    except httpx.HTTPError as exc:
        raise RegistrationError(f"cannot reach {api_url}: {exc}") from None
    finally:
        if client is None:
            http.close()
    if resp.status_code != 201:
        raise RegistrationError(f"code exchange refused: HTTP {resp.status_code} "
                                f"{resp.text[:200]} (codes expire after an hour; start again)")
    data: dict[str, Any] = resp.json()
    return data


@dataclass
class Registration:
    """One registration attempt: what to post, where, and what came back."""

    manifest: dict[str, Any]
    web_url: str
    api_url: str
    env_file: Path
    org: str | None = None
    state: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    result: dict[str, str] | None = None
    on_done: Callable[[dict[str, str]], None] | None = None
    app_yml: str | None = None  # with no manifest: built per request (see start_page)
    public_url: str | None = None  # the webhook base then; default: where the page is browsed
    # Whoever completes the flow decides which App this server runs as: loopback only.
    local_only: bool = True

    def _refused(self, request: Request) -> Response | None:
        from app.web import allowed

        if self.local_only and not allowed(request, None):
            return page("register the App", "<p class='bad'>Registration answers on loopback "
                        "only (use a port forward).</p>", 403)
        return None

    async def start_page(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        if self.result:
            return self._done_page()
        data = self.manifest
        if not data and self.app_yml is not None:
            base = str(request.base_url).rstrip("/")
            data = manifest(self.app_yml, self.public_url or base, f"{base}/callback")
        target = new_app_url(self.web_url, self.org, self.state)
        owner = f"the organization {self.org}" if self.org else "your account"
        hook = data["hook_attributes"]["url"]
        body = (f"<section><h2>Register {esc(data['name'])} on {esc(self.web_url)}</h2>"
                f"<p>This creates a GitHub App owned by {esc(owner)} with the permissions and "
                f"events of <code>app.yml</code>. Webhooks will go to <code>{esc(hook)}</code>."
                f"</p><form method='post' action='{esc(target)}'>"
                f"<input type='hidden' name='manifest' value='{esc(json.dumps(data))}'>"
                "<button type='submit' id='register'>Register on GitHub</button></form>"
                "</section>")
        return page("register the App", body)

    async def callback(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        code, state = request.query_params.get("code", ""), request.query_params.get("state")
        if not state or not secrets.compare_digest(state, self.state):
            return page("register the App", "<p class='bad'>This redirect does not belong to "
                        "this registration (state mismatch). Start again.</p>", 400)
        if self.result:
            return self._done_page()
        try:
            conversion = exchange(self.api_url, code)
            self.result = write_credentials(conversion, self.env_file, self.api_url)
        except RegistrationError as exc:
            return page("register the App", f"<p class='bad'>{esc(exc)}</p>", 502)
        if self.on_done:
            self.on_done(self.result)
        return self._done_page()

    def _done_page(self) -> Response:
        assert self.result is not None
        link = install_url(self.web_url, self.result["APP_SLUG"])
        body = (f"<section id='done'><h2>Registered {esc(self.result['APP_SLUG'])}</h2>"
                f"<p>App id {esc(self.result['APP_ID'])}; credentials written to "
                f"<code>{esc(self.env_file)}</code>.</p>"
                f"<p><a id='install' href='{esc(link)}'>Install it on your repositories</a>"
                "</p><p>Then start it: <code>shipcrew serve</code></p></section>")
        return page("registered", body)

    def routes(self) -> list[Route]:
        return [Route("/", self.start_page), Route("/setup", self.start_page),
                Route("/callback", self.callback)]


def listen(host: str, port: int) -> Any:
    """A bound listening socket, or RegistrationError naming the taken port."""
    import socket

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise RegistrationError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(64)
    return sock


def serve_until_registered(reg: Registration, sock: Any) -> None:
    """Serve the registration pages on `sock` until GitHub redirected back (or Ctrl-C)."""
    import uvicorn
    from starlette.applications import Starlette

    server = uvicorn.Server(uvicorn.Config(Starlette(routes=reg.routes()), log_config=None,
                                           access_log=False, lifespan="off"))

    def done(values: dict[str, str]) -> None:
        server.should_exit = True

    reg.on_done = done
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()


def unregistered(env_file: Path = Path(".env")) -> bool:
    """No App yet: no APP_ID in the environment and no .env to read one from."""
    return not os.environ.get("APP_ID") and not env_file.exists()


def serve_setup(host: str, port: int, manifest_path: Path = Path("app.yml"),
                env_file: Path = Path(".env")) -> int:
    """`shipcrew serve` before any App exists: `/setup` registers one, then it exits."""
    import sys

    api_url = (os.environ.get("GITHUB_API_URL") or GITHUB_API_URL).rstrip("/")
    web_url = web_url_for(api_url)
    try:
        app_yml = manifest_path.read_text()
        sock = listen(host, port)
    except (OSError, RegistrationError) as exc:
        print(f"shipcrew: no App registered, and cannot serve /setup: {exc}", file=sys.stderr)
        return 2
    reg = Registration({}, web_url, api_url, env_file, app_yml=app_yml,
                       public_url=os.environ.get("PUBLIC_URL") or None)
    hooks = os.environ.get("PUBLIC_URL") or f"http://{host}:{port}"
    print(f"shipcrew: no GitHub App is configured (no APP_ID, no {env_file}). Open "
          f"http://{host}:{port}/setup (loopback only) to register one on {web_url}; its "
          f"webhooks will go to {hooks}/webhooks (set PUBLIC_URL to change that; or run "
          "`shipcrew register --url PUBLIC_URL`).", file=sys.stderr, flush=True)
    serve_until_registered(reg, sock)
    if reg.result is None:
        return 1
    print(f"Registered {reg.result['APP_SLUG']}; credentials in {env_file}. Install it: "
          f"{install_url(web_url, reg.result['APP_SLUG'])} and start shipcrew again.",
          file=sys.stderr)
    return 0


def cli_register(args: Any) -> int:
    """`shipcrew register`: serve the start page until GitHub redirects back, then exit."""
    import sys

    api_url = (args.api_url or os.environ.get("GITHUB_API_URL") or GITHUB_API_URL).rstrip("/")
    web_url = (args.github_url or web_url_for(api_url)).rstrip("/")
    local = f"http://{args.host}:{args.port}"
    public = args.url or f"http://localhost:{args.port}"
    try:
        warning = check_public_url(public)
        data = manifest(args.manifest.read_text(), public, f"{local}/callback")
        sock = listen(args.host, args.port)
    except (OSError, RegistrationError) as exc:
        print(f"shipcrew register: {exc}", file=sys.stderr)
        return 2
    if warning:
        print(f"shipcrew register: warning: {warning}", file=sys.stderr)
    reg = Registration(data, web_url, api_url, args.env_file, org=args.org)
    print(f"Open {local}/ in your browser to register {data['name']} on {web_url}"
          + (f" for the organization {args.org}" if args.org else "") + ".", flush=True)
    serve_until_registered(reg, sock)
    if reg.result is None:
        print("shipcrew register: stopped before GitHub redirected back; nothing written",
              file=sys.stderr)
        return 1
    print(f"Registered {reg.result['APP_SLUG']} (App id {reg.result['APP_ID']}); "
          f"credentials in {args.env_file}, key in {reg.result['PRIVATE_KEY_PATH']} (mode 0600).")
    print(f"Install it: {install_url(web_url, reg.result['APP_SLUG'])}", flush=True)
    return 0
