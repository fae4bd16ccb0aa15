"""Control API, part three: what happens after review: merges, direct pushes, environments
with required reviewers, and reviews in GitHub's "Review deployments" dialog."""

from __future__ import annotations

from typing import Any

from tests.emulator import git, render
from tests.emulator.api import ApiError, Runtime, not_found
from tests.emulator.control import RP, control, pull_of, repo_of
from tests.emulator.merge import MergeConflict, merge_pull
from tests.emulator.render_more import pull, pull_head_sha
from tests.emulator.render_trunk import push, review_payload
from tests.emulator.repos import commit_files, record_commit
from tests.emulator.routes_deploy import advance_run, ensure_environment
from tests.emulator.state import Repo, Store, now_iso

METHODS = ("merge", "squash", "rebase")


def emit_push(rt: Runtime, repo: Repo, branch: str, before: str | None, after: str,
              user: str) -> None:
    payload = rt.hooks.envelope(repo, user, **push(rt.store, repo, branch, before, after, user))
    rt.hooks.emit("push", payload)


def merge(rt: Runtime, p: dict, body: dict) -> tuple[int, Any]:
    s = rt.store
    repo, pr = pull_of(s, p)
    method = body.get("method") or "merge"
    if method not in METHODS:
        raise ApiError(422, f"merge_method {method!r} is not one of {', '.join(METHODS)}")
    if pr.state != "open":
        raise ApiError(405, "Pull Request is not mergeable")
    user = body.get("user") or repo.owner
    s.user(user)
    base_ref = f"heads/{pr.base_ref}"
    before, head = repo.refs[base_ref], pull_head_sha(s, pr)
    now = now_iso()
    merger = git.Signature(user, render.email_for(s, user), now)
    author = git.Signature(pr.user, render.email_for(s, pr.user), now)
    message = (f"{pr.title} (#{pr.number})" if method == "squash" else
               f"Merge pull request #{pr.number} from {pr.head_repo.split('/')[0]}/{pr.head_ref}")
    try:
        merged = merge_pull(repo.store, method, before, head, message=message, merger=merger,
                            author=author)
    except MergeConflict as e:
        raise ApiError(405, f"Pull Request is not mergeable (conflict in {e})") from e
    for sha in merged.commits:
        record_commit(repo, sha)
    repo.refs[base_ref] = merged.sha
    repo.pushed_at = now
    pr.state, pr.updated_at, pr.merged_at, pr.merged_by = "closed", now, now, user
    pr.merge_commit_sha, pr.merged_head_sha, pr.merged_base_sha = merged.sha, head, before
    pr.merged_commits = list(merged.commits)
    payload = rt.hooks.envelope(repo, user, action="closed", number=pr.number,
                                pull_request=pull(s, repo, pr))
    rt.hooks.emit("pull_request", payload)
    emit_push(rt, repo, pr.base_ref, before, merged.sha, user)
    return 200, {"sha": merged.sha, "merged": True, "method": method}


def direct_push(rt: Runtime, p: dict, body: dict) -> tuple[int, Any]:
    """A push straight to a branch, no pull request (creates the branch when missing)."""
    s, repo = rt.store, repo_of(rt.store, p)
    branch, user = body["branch"], body.get("user") or repo.owner
    s.user(user)
    before = repo.refs.get(f"heads/{branch}")
    parent = before or repo.refs[f"heads/{repo.default_branch}"]
    after = commit_files(s, repo, parent, body.get("files") or {},
                         body.get("message") or "Update", user)
    repo.refs[f"heads/{branch}"] = after
    repo.pushed_at = now_iso()
    emit_push(rt, repo, branch, before, after, user)
    return 201, {"sha": after, "before": before}


def _reviewers(s: Store, raw: list) -> list[dict]:
    out = []
    for r in raw:
        kind = r.get("type") or "User"
        if kind == "Team":
            out.append({"type": "Team", "slug": r["slug"]})
        elif kind == "User":
            s.user(r["login"])
            out.append({"type": "User", "login": r["login"]})
        else:
            raise ApiError(422, f"reviewer type {kind!r} is not one of User, Team")
    if len(out) > 6:
        raise ApiError(422, "You can list up to six users or teams as reviewers")
    return out


def configure_environment(rt: Runtime, p: dict, body: dict) -> tuple[int, Any]:
    s, repo = rt.store, repo_of(rt.store, p)
    env = ensure_environment(s, repo, body["name"])
    if "reviewers" in body:
        env["reviewers"] = _reviewers(s, body["reviewers"] or [])
    for key in ("prevent_self_review", "protection_rule", "wait_timer"):
        if key in body:
            env[key] = body[key]
    env["updated_at"] = now_iso()
    return 201, {"id": env["id"], "name": env["name"]}


def is_reviewer(s: Store, repo: Repo, env: dict, login: str) -> bool:
    for r in env.get("reviewers") or []:
        if r["type"] == "User" and r["login"].lower() == login.lower():
            return True
        members = s.teams.get((repo.owner.lower(), r.get("slug", "").lower()), set())
        if r["type"] == "Team" and login.lower() in {m.lower() for m in members}:
            return True
    return False


def review(rt: Runtime, p: dict, body: dict) -> tuple[int, Any]:
    """A required reviewer approves or rejects a waiting job in "Review deployments"."""
    s, repo = rt.store, repo_of(rt.store, p)
    run = repo.workflow_runs.get(int(p["run_id"]))
    if run is None:
        raise not_found()
    name, state, user = body["environment"], body["state"], body["user"]
    if state not in ("approved", "rejected"):
        raise ApiError(422, f"state {state!r} is not one of approved, rejected")
    env = repo.environments.get(name)
    if env is None or name not in run.get("review_pending", []):
        raise ApiError(422, f"No pending deployment reviews for environment {name}")
    if not is_reviewer(s, repo, env, user):
        raise ApiError(409, f"{user} is not a required reviewer of {name}")
    if env.get("prevent_self_review") and user.lower() == (run.get("actor") or "").lower():
        raise ApiError(409, f"{user} triggered this run and may not review it")
    run["review_pending"].remove(name)
    comment = body.get("comment") or ""
    repo.deployment_reviews.append({"run_id": run["id"], "environment": name, "state": state,
                                    "user": user, "comment": comment, "created_at": now_iso()})
    advance_run(s, repo, run, name, state)
    payload = rt.hooks.envelope(repo, user, action=state, approver=render.user(s, user),
                                comment=comment,
                                **review_payload(s, repo, run, env, since=run["created_at"],
                                                 teams=False))
    rt.hooks.emit("deployment_review", payload)
    return 201, {"run_id": run["id"], "environment": name, "state": state}


def request_review(rt: Runtime, repo: Repo, run: dict, env: dict) -> None:
    """A job waits on an environment with required reviewers: they are asked."""
    run.setdefault("review_pending", []).append(env["name"])
    actor = run.get("actor") or repo.owner
    payload = rt.hooks.envelope(repo, actor, action="requested", environment=env["name"],
                                requestor=render.user(rt.store, actor),
                                **review_payload(rt.store, repo, run, env,
                                                 since=run["created_at"]))
    rt.hooks.emit("deployment_review", payload)


ROUTES = [
    control(f"{RP}/pulls/{{number}}/merge", "POST", merge),
    control(f"{RP}/push", "POST", direct_push),
    control(f"{RP}/environments", "POST", configure_environment),
    control(f"{RP}/actions/runs/{{run_id}}/review", "POST", review),
]
