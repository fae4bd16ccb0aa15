"""Control API, part two: checks from other apps, deployments, people, faults and logs."""

from __future__ import annotations

import secrets
import time
from typing import Any

from tests.emulator import render
from tests.emulator.api import ApiError, Runtime, not_found
from tests.emulator.control import RP, P, control, repo_of
from tests.emulator.control_trunk import request_review
from tests.emulator.render_more import deployment, deployment_status, pull, pull_head_sha
from tests.emulator.repos import resolve
from tests.emulator.routes_app import delivery_item
from tests.emulator.routes_checks import check_limits, deliver, new_run
from tests.emulator.routes_deploy import (
    add_status,
    advance_run,
    ensure_environment,
    new_deployment,
)
from tests.emulator.state import Faults, now_iso

ACTIONS_BOT = "github-actions[bot]"


def check_run_action(rt: Runtime, p: dict, body: dict) -> tuple[int, Any]:
    repo = repo_of(rt.store, p)
    run = next((r for r in repo.check_runs if r["id"] == int(p["id"])), None)
    if run is None:
        raise not_found()
    identifier = body["identifier"]
    if identifier not in {a.get("identifier") for a in run["actions"]}:
        raise ApiError(422, f"check run {run['id']} offers no action {identifier!r}")
    deliver(rt.hooks, repo, run, "requested_action", body.get("user") or repo.owner,
            requested_action={"identifier": identifier})
    return 202, {"id": run["id"]}


def foreign_check_run(rt: Runtime, p: dict, body: dict) -> tuple[int, Any]:
    """A check run written by another CI app (its events still reach our App)."""
    s, repo = rt.store, repo_of(rt.store, p)
    slug = body.get("app_slug") or "other-ci"
    other = {**render.app(s, s.app), "id": 99000 + len(slug), "slug": slug, "name": slug,
             "node_id": render.node_id("Integration", slug), "owner": render.user(s, slug)}
    check_limits(body)
    run = new_run(s, repo, body, other)
    deliver(rt.hooks, repo, run, "created", f"{slug}[bot]")
    if run["status"] == "completed":
        deliver(rt.hooks, repo, run, "completed", f"{slug}[bot]")
    return 201, {"id": run["id"]}


def deploy(rt: Runtime, p: dict, body: dict) -> tuple[int, Any]:
    """A workflow job waits on an environment: its protection rule and reviewers are asked."""
    s, repo, name = rt.store, repo_of(rt.store, p), p["env"]
    ref = body.get("ref") or repo.default_branch
    sha = body.get("sha") or resolve(s, repo, ref)
    if sha is None:
        raise ApiError(422, f"No ref found for: {ref}")
    user = body.get("user") or repo.owner
    workflow = body.get("workflow") or "deploy.yml"
    env = ensure_environment(s, repo, name)
    gated = bool(env.get("protection_rule", True))
    run = {
        "id": s.next_id(), "name": body.get("name") or "Deploy",
        "path": f".github/workflows/{workflow}", "workflow_id": 7000 + len(workflow),
        "run_number": len(repo.workflow_runs) + 1, "event": body.get("event") or "push",
        "status": "waiting", "conclusion": None, "head_sha": sha, "actor": user,
        "ref": ref if ref.startswith("refs/") else f"refs/heads/{ref}",
        "environments": [name], "pending_environments": [name] if gated else [],
        "created_at": now_iso(),
    }
    repo.workflow_runs[run["id"]] = run
    d = new_deployment(s, repo, sha, ref, name, ACTIONS_BOT, workflow_run_id=run["id"],
                       task="deploy", payload={}, description=None)
    add_status(s, d, "waiting", ACTIONS_BOT)
    if env.get("reviewers"):
        request_review(rt, repo, run, env)
    if not gated:
        if not env.get("reviewers"):
            advance_run(s, repo, run, name, "approved")
        return 201, {"run_id": run["id"], "deployment_id": d["id"]}
    # GitHub names the PRs whose head is the SHA; a merge commit's PR is not among them
    prs = [pull(s, repo, pr) for pr in repo.pulls.values()
           if pr.state == "open" and pull_head_sha(s, pr) == sha]
    callback = f"{s.base_url}/repos/{repo.full_name}/actions/runs/{run['id']}" \
               "/deployment_protection_rule"
    payload = rt.hooks.envelope(
        repo, user, action="requested", environment=name, event=run["event"], sha=sha, ref=ref,
        deployment_callback_url=callback, deployment=deployment(s, repo, d),
        pull_requests=prs,
    )
    rt.hooks.emit("deployment_protection_rule", payload)
    return 201, {"run_id": run["id"], "deployment_id": d["id"]}


def deployment_state(rt: Runtime, p: dict, body: dict) -> tuple[int, Any]:
    s, repo = rt.store, repo_of(rt.store, p)
    d = next((x for x in repo.deployments if x["id"] == int(p["id"])), None)
    if d is None:
        raise not_found()
    user = body.get("user") or ACTIONS_BOT
    st = add_status(s, d, body["state"], user, description=body.get("description"),
                    environment_url=body.get("environment_url"), log_url=body.get("log_url"))
    payload = rt.hooks.envelope(repo, user, action="created",
                                deployment_status=deployment_status(s, repo, d, st),
                                deployment=deployment(s, repo, d))
    rt.hooks.emit("deployment_status", payload)
    return 201, {"id": st["id"]}


def add_collaborator(rt: Runtime, p: dict, body: dict) -> tuple[int, Any]:
    repo = repo_of(rt.store, p)
    rt.store.user(body["user"])
    repo.collaborators[body["user"]] = body.get("permission") or "write"
    return 201, {"user": body["user"], "permission": repo.collaborators[body["user"]]}


def user_token(rt: Runtime, p: dict, body: dict) -> tuple[int, Any]:
    """A person's own token (think a fine-grained PAT), e.g. an admin's for provisioning."""
    rt.store.user(p["login"])
    token = "ghp_" + secrets.token_hex(18)
    rt.store.user_tokens[token] = p["login"]
    return 201, {"token": token, "login": p["login"]}


def add_team_member(rt: Runtime, p: dict, body: dict) -> tuple[int, Any]:
    s, org = rt.store, p["org"]
    s.orgs.add(org)
    s.user(org).type = "Organization"
    s.user(body["user"])
    s.teams.setdefault((org.lower(), p["team"].lower()), set()).add(body["user"])
    return 201, {"org": org, "team": p["team"], "user": body["user"]}


def set_config(rt: Runtime, p: dict, body: dict) -> tuple[int, Any]:
    s = rt.store
    if "webhook_url" in body:
        s.webhook_url = body["webhook_url"]
    if "token_ttl_seconds" in body:
        s.token_ttl = int(body["token_ttl_seconds"])
    if "app_permissions" in body:
        s.app.permissions = dict(body["app_permissions"])
    return 200, {"webhook_url": s.webhook_url, "token_ttl_seconds": s.token_ttl,
                 "app_permissions": s.app.permissions}


def set_faults(rt: Runtime, p: dict, body: dict) -> tuple[int, Any]:
    rate = float(body.get("error_rate") or 0)
    if not 0 <= rate <= 1:
        raise ApiError(422, "error_rate must be within 0..1")
    rt.store.faults = Faults(
        error_rate=rate,
        rate_limit_after=body.get("rate_limit_after"),
        secondary_rate_limit=body.get("secondary_rate_limit"),
        secondary_status=int(body.get("secondary_status") or 403),
        latency_ms=int(body.get("latency_ms") or 0),
    )
    if body.get("rate_limit_reset_in") is not None:  # when X-RateLimit-Reset says it lifts
        rt.store.faults.reset_at = int(time.time() + float(body["rate_limit_reset_in"]))
        rt.store.faults.lifts_at = rt.store.faults.reset_at
    rt.rng.seed(body.get("seed", 0))
    return 200, {k: getattr(rt.store.faults, k) for k in
                 ("error_rate", "rate_limit_after", "secondary_rate_limit",
                  "secondary_status", "latency_ms")}


def hold_deliveries(rt: Runtime, p: dict, body: dict) -> tuple[int, Any]:
    rt.hooks.hold()
    return 200, {"holding": True}


def release_deliveries(rt: Runtime, p: dict, body: dict) -> tuple[int, Any]:
    return 200, {"released": rt.hooks.release()}


def list_requests(rt: Runtime, p: dict, body: dict) -> tuple[int, Any]:
    return 200, list(rt.store.requests)


def clear_requests(rt: Runtime, p: dict, body: dict) -> tuple[int, Any]:
    rt.store.requests.clear()
    return 200, []


def list_deliveries(rt: Runtime, p: dict, body: dict) -> tuple[int, Any]:
    return 200, [
        {**delivery_item(d), "payload": d.payload, "response": d.response}
        for d in rt.store.deliveries
    ]


def credentials(rt: Runtime, p: dict, body: dict) -> tuple[int, Any]:
    a = rt.store.app
    return 200, {"app_id": a.id, "app_slug": a.slug, "private_key_pem": a.private_key_pem,
                 "webhook_secret": a.webhook_secret, "api_url": rt.store.base_url}


def manifest_code(rt: Runtime, p: dict, body: dict) -> tuple[int, Any]:
    """What GitHub does when a human confirms a manifest: hand out a one-time code."""
    code = secrets.token_hex(10)
    rt.store.manifest_codes[code] = body.get("manifest") or body
    return 201, {"code": code}


ROUTES = [
    control(f"{RP}/check-runs/{{id}}/action", "POST", check_run_action),
    control(f"{RP}/check-runs", "POST", foreign_check_run),
    control(f"{RP}/environments/{{env}}/deploy", "POST", deploy),
    control(f"{RP}/deployments/{{id}}/statuses", "POST", deployment_state),
    control(f"{RP}/collaborators", "POST", add_collaborator),
    control(f"{P}/orgs/{{org}}/teams/{{team}}/members", "POST", add_team_member),
    control(f"{P}/users/{{login}}/tokens", "POST", user_token),
    control(f"{P}/config", "POST", set_config),
    control(f"{P}/faults", "POST", set_faults),
    control(f"{P}/requests", "GET", list_requests),
    control(f"{P}/requests", "DELETE", clear_requests),
    control(f"{P}/deliveries", "GET", list_deliveries),
    control(f"{P}/deliveries/hold", "POST", hold_deliveries),
    control(f"{P}/deliveries/release", "POST", release_deliveries),
    control(f"{P}/credentials", "GET", credentials),
    control(f"{P}/app-manifests", "POST", manifest_code),
]
