"""The operator's pages of a running App: the status page at `/` and `/setup`.

Protected by default by place, not by password: only requests from the loopback interface
with a loopback `Host` (so a DNS-rebinding page cannot read it) are served, because the page
shows repository names and job errors (which may quote pull-request content) and can requeue
jobs, while the same port answers GitHub's webhooks from the internet. Reach it with
`kubectl port-forward` or an SSH tunnel; or set STATUS_TOKEN and send it as
`Authorization: Bearer <token>` (or `?token=`), e.g. behind an authenticating proxy.
The requeue form carries an HMAC of the job id under the webhook secret (no cross-site posts).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import time
from typing import Any

import redis
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from app.settings import Settings
from app.web import status as st
from app.web.html import badge, esc, form, page, section, table

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def _loopback(request: Request) -> bool:
    client = request.client.host if request.client else ""
    try:
        is_local = ipaddress.ip_address(client).is_loopback
    except ValueError:
        is_local = False
    return is_local and (request.url.hostname or "") in LOOPBACK_HOSTS


def allowed(request: Request, token: str | None, form_token: str = "") -> bool:
    if token:
        given = (request.headers.get("authorization", "").removeprefix("Bearer ").strip()
                 or request.query_params.get("token", "") or form_token)
        return hmac.compare_digest(given.encode(), token.encode())
    return _loopback(request)


def csrf(secret: str, job_id: str) -> str:
    return hmac.new(secret.encode(), f"requeue:{job_id}".encode(), hashlib.sha256).hexdigest()


def _ago(at: Any) -> str:
    try:
        seconds = max(0, int(time.time() - float(at)))
    except (TypeError, ValueError):
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def render(s: st.Status, secret: str, token: str | None) -> str:
    rows = [[esc(ev), *(esc(counts.get(o, "")) for o in s.outcomes)]
            for ev, counts in s.deliveries.items()]
    deliveries = table(["event", *s.outcomes], rows, "No deliveries yet.")
    qrows = [[esc(n), esc(q), esc(r), badge("failed") + f" {f}" if f else "0"]
             for n, q, r, f in s.queues]
    queues = table(["queue", "waiting", "running", "failed"], qrows, "")
    hidden = f"<input type='hidden' name='token' value='{esc(token)}'>" if token else ""
    frows = [[esc(j["func"]), esc(j["repo"]), f"<code>{esc(j['error'])}</code>",
              f"<span style='white-space:nowrap'>{esc(_ago(j['at']))}</span>",
              f"<form method='post' action='/status/requeue'>{hidden}"
              f"<input type='hidden' name='job' value='{esc(j['job'])}'>"
              f"<input type='hidden' name='csrf' value='{csrf(secret, j['job'])}'>"
              "<button type='submit'>redeliver</button></form>"] for j in s.failed]
    failed = table(["job", "repository", "error", "when", ""], frows, "No failed jobs.")
    grows = [[esc(g["repo"]), esc(g["environment"]), f"<code>{esc(g['sha'][:12])}</code>",
              esc(", ".join(f"#{n}" for n in g["pulls"])),
              "<br>".join(esc(w) for w in g["waits_for"])] for g in s.gates]
    gates = table(["repository", "environment", "commit", "pulls", "waiting for"], grows,
                  "No deployment is waiting.")
    drows = [[esc(_ago(d.get("at"))), esc(d.get("repo")),
              esc(" ".join(f"#{n}" for n in ([d["number"]] if d.get("number") else
                                               d.get("pulls") or []))), badge(d.get("kind")),
              esc(st.summary(d))] for d in s.decisions]
    decisions = table(["when", "repository", "pull", "what", "decision and reasons"], drows,
                      "Nothing decided yet.")
    return (f"<div class='grid'>{section('Deliveries received', deliveries, 'deliveries')}"
            f"{section('Queues', queues, 'queues')}</div>"
            f"{section('Pending deployment gates', gates, 'gates')}"
            f"{section('Failed jobs', failed, 'failed')}"
            f"{section('Recent decisions', decisions, 'decisions')}")


def routes(settings: Settings, conn: redis.Redis) -> list[Route]:
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
    token = settings.status_token.get_secret_value() if settings.status_token else None

    def forbidden() -> Response:
        return page("forbidden", "<p>The status page answers on loopback only (use a port "
                    "forward) unless STATUS_TOKEN is set and sent.</p>", 403)

    async def status_page(request: Request) -> Response:
        if not allowed(request, token):
            return forbidden()
        try:
            data = st.gather(conn)
        except redis.RedisError as exc:
            return page("status", f"<p class='bad'>Redis unreachable: {esc(exc)}</p>", 503)
        note = request.query_params.get("requeued")
        banner = f"<p class='ok' id='banner'>Requeued {esc(note)}</p>" if note else ""
        return page("status", banner + render(data, secret, token), refresh=10)

    async def requeue(request: Request) -> Response:
        fields = await form(request)
        job, mac = (fields.get("job") or [""])[0], (fields.get("csrf") or [""])[0]
        if not allowed(request, token, (fields.get("token") or [""])[0]):
            return forbidden()
        if not hmac.compare_digest(mac, csrf(secret, job)):
            return page("status", "<p class='bad'>Stale or forged form; reload the page.</p>", 400)
        queue = st.requeue(conn, job, who="status page")
        if queue is None:
            return page("status", f"<p class='bad'>{esc(job)} is not a failed job.</p>", 404)
        suffix = f"&token={token}" if token else ""
        return RedirectResponse(f"/?requeued={job}{suffix}", 303)

    async def setup(request: Request) -> Response:
        from app.web.register import install_url, web_url_for

        slug = settings.app_slug or "?"
        link = install_url(web_url_for(settings.github_api_url), slug)
        return page("setup", f"<section><h2>Registered as {esc(slug)}</h2><p>App id "
                    f"{esc(settings.app_id)}. <a href='{esc(link)}'>Install it</a>.</p>"
                    "<p>To register a new App: <code>shipcrew register</code>.</p></section>")

    return [Route("/", status_page), Route("/status/requeue", requeue, methods=["POST"]),
            Route("/setup", setup)]
