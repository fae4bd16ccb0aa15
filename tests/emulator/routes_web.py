"""GitHub's web pages a human clicks through: the App manifest flow and the installation page.

`POST /settings/apps/new?state=S` (or `/organizations/{org}/settings/apps/new`) with a form
field `manifest` (JSON) shows "Create GitHub App"; confirming it hands out a one-time code and
redirects to the manifest's `redirect_url` with `code` and `state`, as GitHub does. The code
is exchanged at `POST /app-manifests/{code}/conversions` (routes_app). `GET
/apps/{slug}/installations/new` lists the repositories the App does not cover yet; installing
delivers `installation.created` (or `installation_repositories.added`).
"""

from __future__ import annotations

import json
import secrets
from html import escape
from urllib.parse import parse_qs, urlencode, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.emulator.api import Runtime
from tests.emulator.control import install_repos

NEW_APP = "/settings/apps/new"
ORG_NEW_APP = "/organizations/{org}/settings/apps/new"


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}"
                        f"</title></head><body><h1>{escape(title)}</h1>{body}</body></html>",
                        status_code=status)


async def _form(request: Request) -> dict[str, list[str]]:
    """An `application/x-www-form-urlencoded` body, as browsers post a plain form."""
    return parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)


def _one(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0]


def _manifest_error(manifest: object) -> str | None:
    """GitHub refuses a manifest without these; say which one is wrong."""
    if not isinstance(manifest, dict):
        return "manifest is not a JSON object"
    if not manifest.get("url"):
        return "manifest: url is required"
    hook = manifest.get("hook_attributes")
    if not isinstance(hook, dict) or not str(hook.get("url", "")).startswith(("http://",
                                                                                "https://")):
        return "manifest: hook_attributes.url must be an http(s) URL"
    redirect = str(manifest.get("redirect_url", ""))
    if urlsplit(redirect).scheme not in {"http", "https"}:
        return "manifest: redirect_url must be an http(s) URL"
    return None


async def new_app(request: Request) -> Response:
    """Step 1: the posted manifest, shown for confirmation (GitHub lets the human rename it)."""
    form = await _form(request)
    raw = _one(form, "manifest")
    try:
        manifest = json.loads(raw)
    except ValueError:
        return _page("Invalid manifest", "<p>manifest: not valid JSON</p>", 422)
    error = _manifest_error(manifest)
    if error:
        return _page("Invalid manifest", f"<p>{escape(error)}</p>", 422)
    org = request.path_params.get("org")
    state = request.query_params.get("state", "")
    owner = f"organization {org}" if org else "your account"
    perms = "".join(f"<li>{escape(k)}: {escape(str(v))}</li>"
                    for k, v in sorted((manifest.get("default_permissions") or {}).items()))
    events = ", ".join(escape(str(e)) for e in manifest.get("default_events") or [])
    body = (f"<p>For {escape(owner)}. Webhook URL: "
            f"<code>{escape(manifest['hook_attributes']['url'])}</code></p>"
            f"<ul>{perms}</ul><p>Events: {events}</p>"
            f"<form method='post' action='{escape(request.url.path)}/create'>"
            f"<input type='hidden' name='manifest' value='{escape(raw, quote=True)}'>"
            f"<input type='hidden' name='state' value='{escape(state, quote=True)}'>"
            f"<label>GitHub App name <input name='name' "
            f"value='{escape(str(manifest.get('name', '')), quote=True)}'></label>"
            "<button type='submit' id='create'>Create GitHub App</button></form>")
    return _page("Create GitHub App", body)


async def create_app(request: Request) -> Response:
    """Step 2: the human confirmed; a one-time code goes back to the manifest's redirect_url."""
    form = await _form(request)
    try:
        manifest = json.loads(_one(form, "manifest"))
    except ValueError:
        return _page("Invalid manifest", "<p>manifest: not valid JSON</p>", 422)
    error = _manifest_error(manifest)
    if error:
        return _page("Invalid manifest", f"<p>{escape(error)}</p>", 422)
    if _one(form, "name"):
        manifest["name"] = _one(form, "name")
    rt: Runtime = request.app.state.rt
    code = secrets.token_hex(10)
    with rt.store.lock:
        rt.store.manifest_codes[code] = manifest
    query = urlencode({"code": code, "state": _one(form, "state")})
    redirect = str(manifest["redirect_url"])
    return RedirectResponse(f"{redirect}{'&' if '?' in redirect else '?'}{query}", 302)


async def installation_page(request: Request) -> Response:
    rt: Runtime = request.app.state.rt
    s = rt.store
    if request.path_params["slug"] != s.app.slug:
        return _page("Not Found", "<p>no such App</p>", 404)
    with s.lock:
        covered = {name.lower() for i in s.installations.values() for name in i.repos}
        free = sorted(r.full_name for r in s.repos.values() if r.full_name.lower() not in covered)
    boxes = "".join(f"<li><label><input type='checkbox' name='repo' value='{escape(n, quote=True)}'"
                    f" checked> {escape(n)}</label></li>" for n in free)
    body = (f"<form method='post'><ul>{boxes}</ul>"
            "<button type='submit' id='install'>Install</button></form>" if free
            else "<p>Every repository is already covered by an installation.</p>")
    return _page(f"Install {s.app.name}", body)


async def install(request: Request) -> Response:
    rt: Runtime = request.app.state.rt
    chosen = (await _form(request)).get("repo", [])

    def run() -> list[str]:
        s = rt.store
        rt.hooks.drain()
        done = []
        with s.lock:
            repos = [r for r in (s.repos.get(n.lower()) for n in chosen) if r is not None]
            for owner in sorted({r.owner for r in repos}):
                mine = [r for r in repos if r.owner == owner]
                install_repos(rt, mine, owner)
                done += [r.full_name for r in mine]
        rt.hooks.drain()  # the App has heard of the installation before the page answers
        return done

    done = await run_in_threadpool(run)
    items = "".join(f"<li>{escape(n)}</li>" for n in done)
    return _page(f"Installed {rt.store.app.name}",
                 f"<p id='installed'>Installed on:</p><ul>{items}</ul>")


ROUTES = [
    Route(NEW_APP, new_app, methods=["POST"]),
    Route(ORG_NEW_APP, new_app, methods=["POST"]),
    Route(f"{NEW_APP}/create", create_app, methods=["POST"]),
    Route(f"{ORG_NEW_APP}/create", create_app, methods=["POST"]),
    Route("/apps/{slug}/installations/new", installation_page, methods=["GET"]),
    Route("/apps/{slug}/installations/new", install, methods=["POST"]),
]
