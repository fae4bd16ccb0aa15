"""App-level endpoints: the App, installations, tokens, hook deliveries, manifest flow."""

from __future__ import annotations

from starlette.responses import JSONResponse

from tests.emulator import render
from tests.emulator.api import ApiError, Ctx, Result, api, not_found
from tests.emulator.state import Delivery, now_iso

R = "/repos/{owner}/{repo}"


def get_app(ctx: Ctx) -> Result:
    return 200, render.app(ctx.store, ctx.store.app)


def _installation(ctx: Ctx):  # noqa: ANN202
    inst = ctx.store.installations.get(int(ctx.params["installation_id"]))
    if inst is None:
        raise not_found()
    return inst


def list_installations(ctx: Ctx) -> Result:
    return 200, [render.installation(ctx.store, i) for i in ctx.store.installations.values()]


def get_installation(ctx: Ctx) -> Result:
    return 200, render.installation(ctx.store, _installation(ctx))


def access_token(ctx: Ctx) -> Result:
    inst = _installation(ctx)
    wanted = ctx.field("permissions", None) or {}
    granted = ctx.store.app.permissions
    levels = {"read": 1, "write": 2, "admin": 3}
    for name, level in wanted.items():
        if levels.get(level, 9) > levels.get(granted.get(name, ""), 0):
            raise ApiError(422, f"The permissions requested are not granted to this "
                                f"installation ({name}: {level}).")
    tok = ctx.store.issue_token(inst.id)
    repos = [ctx.store.repos[r.lower()] for r in inst.repos]
    return 201, {
        "token": tok.token,
        "expires_at": now_iso(tok.expires_at),
        "permissions": wanted or dict(granted),
        "repository_selection": "selected",
        "repositories": [render.repository(ctx.store, r, full=False) for r in repos],
    }


def repo_installation(ctx: Ctx) -> Result:
    inst = ctx.store.installation_for(ctx.need_repo().full_name)
    if inst is None:
        raise not_found()
    return 200, render.installation(ctx.store, inst)


def installation_repos(ctx: Ctx) -> Result:
    assert ctx.installation is not None
    repos = [ctx.store.repos[r.lower()] for r in ctx.installation.repos]
    return 200, {
        "total_count": len(repos),
        "repository_selection": "selected",
        "repositories": [render.repository(ctx.store, r, full=False) for r in repos],
    }


def delivery_item(d: Delivery) -> dict:
    return {
        "id": d.id,
        "guid": d.guid,
        "delivered_at": d.delivered_at,
        "redelivery": d.redelivery,
        "duration": d.duration,
        "status": d.status,
        "status_code": d.status_code,
        "event": d.event,
        "action": d.action,
        "installation_id": d.installation_id,
        "repository_id": d.repository_id,
        "throttled_at": None,
    }


def list_deliveries(ctx: Ctx) -> Result:
    """Newest first, paged with an opaque `cursor` (the id to continue after)."""
    per_page = min(int(ctx.query.get("per_page", 30)), 100)
    items = sorted(ctx.store.deliveries, key=lambda d: -d.id)
    cursor = ctx.query.get("cursor")
    if cursor:
        items = [d for d in items if d.id < int(cursor)]
    page = items[:per_page]
    headers = None
    if len(items) > per_page:
        url = f"{ctx.store.base_url}/app/hook/deliveries"
        headers = {"Link": f'<{url}?per_page={per_page}&cursor={page[-1].id}>; rel="next"'}
    return JSONResponse([delivery_item(d) for d in page], headers=headers)


def _delivery(ctx: Ctx) -> Delivery:
    did = int(ctx.params["delivery_id"])
    found = next((d for d in ctx.store.deliveries if d.id == did), None)
    if found is None:
        raise not_found()
    return found


def get_delivery(ctx: Ctx) -> Result:
    d = _delivery(ctx)
    return 200, {
        **delivery_item(d),
        "url": ctx.store.webhook_url or "",
        "request": {"headers": {"X-GitHub-Event": d.event, "X-GitHub-Delivery": d.guid},
                    "payload": d.payload},
        "response": {"headers": {}, "payload": d.response},
    }


def redeliver(ctx: Ctx) -> Result:
    ctx.hooks.redeliver(_delivery(ctx))
    return 202, {}


def manifest_conversion(ctx: Ctx) -> Result:
    """The last step of the manifest flow: exchange a one-time code for App credentials."""
    manifest = ctx.store.manifest_codes.pop(ctx.params["code"], None)
    if manifest is None:
        raise not_found()
    info = ctx.store.app
    info.name = manifest.get("name") or info.name
    perms = manifest.get("default_permissions")
    if perms:
        info.permissions = dict(perms)
    if manifest.get("default_events"):
        info.events = list(manifest["default_events"])
    hook = manifest.get("hook_attributes") or {}
    if hook.get("url"):
        ctx.store.webhook_url = hook["url"]
    return 201, {
        **render.app(ctx.store, info),
        "client_id": info.client_id,
        "client_secret": info.client_secret,
        "webhook_secret": info.webhook_secret,
        "pem": info.private_key_pem,
    }


def rate_limit(ctx: Ctx) -> Result:
    f = ctx.store.faults
    limit = f.rate_limit_after if f.rate_limit_after is not None else 5000
    core = {"limit": limit, "remaining": max(0, limit - f.used), "reset": f.reset_at,
            "used": f.used}
    return 200, {"resources": {"core": core}, "rate": core}


ROUTES = [
    api("/app", "GET", get_app, "jwt"),
    api("/app/installations", "GET", list_installations, "jwt"),
    api("/app/installations/{installation_id}", "GET", get_installation, "jwt"),
    api("/app/installations/{installation_id}/access_tokens", "POST", access_token, "jwt"),
    api(f"{R}/installation", "GET", repo_installation, "jwt"),
    api("/installation/repositories", "GET", installation_repos),
    api("/app/hook/deliveries", "GET", list_deliveries, "jwt"),
    api("/app/hook/deliveries/{delivery_id}", "GET", get_delivery, "jwt"),
    api("/app/hook/deliveries/{delivery_id}/attempts", "POST", redeliver, "jwt"),
    api("/app-manifests/{code}/conversions", "POST", manifest_conversion, "none"),
    api("/rate_limit", "GET", rate_limit),
]
