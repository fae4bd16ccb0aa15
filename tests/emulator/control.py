"""Control API (`/_emulator/...`): what humans and other systems do on GitHub.

Every change is delivered to the App as a webhook before the call returns.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.emulator import git, render
from tests.emulator.api import ApiError, Runtime, not_found
from tests.emulator.render_more import comment, environment, pull, pull_head_sha
from tests.emulator.repos import commit_files, create_repo, install
from tests.emulator.routes_pulls import add_comment
from tests.emulator.state import Installation, Pull, Repo, Store, now_iso

P = "/_emulator"
RP = "/_emulator/repos/{owner}/{repo}"
ControlHandler = Callable[[Runtime, dict[str, str], dict], tuple[int, Any]]


def control(path: str, method: str, handler: ControlHandler) -> Route:
    async def endpoint(request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            return JSONResponse({"message": "Problems parsing JSON"}, status_code=400)
        rt: Runtime = request.app.state.rt
        params = {**request.query_params, **request.path_params}

        def run() -> Response:
            # deliveries caused by the App's own calls may still be in flight: let them land
            rt.hooks.drain()
            with rt.store.lock:
                try:
                    status, data = handler(rt, params, body or {})
                except ApiError as e:
                    return JSONResponse({"message": e.message}, status_code=e.status)
                except (KeyError, TypeError, ValueError, git.GitError) as e:
                    return JSONResponse({"message": f"bad control request: {e!r}"},
                                        status_code=400)
            rt.hooks.drain()  # the App has seen the change before we answer
            return JSONResponse(data, status_code=status)

        return await run_in_threadpool(run)

    return Route(path, endpoint, methods=[method])


def repo_of(store: Store, p: dict[str, str]) -> Repo:
    repo = store.repo(p["owner"], p["repo"])
    if repo is None:
        raise not_found()
    return repo


def pull_of(store: Store, p: dict[str, str]) -> tuple[Repo, Pull]:
    repo = repo_of(store, p)
    pr = repo.pulls.get(int(p["number"]))
    if pr is None:
        raise not_found()
    return repo, pr


def create_repository(rt: Runtime, p: dict, body: dict) -> tuple[int, Any]:
    s, owner, name = rt.store, body["owner"], body["name"]
    if s.repo(owner, name):
        raise ApiError(422, f"{owner}/{name} already exists")
    if body.get("org"):
        s.orgs.add(owner)
        s.user(owner).type = "Organization"
    branch = body.get("default_branch") or "main"
    repo = create_repo(s, owner, name, body.get("files") or {}, branch)
    repo.private = bool(body.get("private", False))
    inst = None if body.get("install") is False else install_repos(rt, [repo],
                                                                    body.get("sender") or owner)
    return 201, {"full_name": repo.full_name, "installation_id": inst.id if inst else None,
                 "id": repo.id,
                 "default_branch": repo.default_branch,
                 "head_sha": repo.refs[f"heads/{repo.default_branch}"]}


def install_repos(rt: Runtime, repos: list[Repo], sender: str) -> Installation:
    """Cover `repos` (one owner) by the App, as the installation page or `POST /repos` does:
    `installation.created` for a new installation, else `installation_repositories.added`."""
    s = rt.store
    inst, created = install(s, repos[0])
    for repo in repos[1:]:
        install(s, repo)
    short = [{"id": r.id, "node_id": render.node_id("Repository", r.id), "name": r.name,
              "full_name": r.full_name, "private": r.private} for r in repos]
    if created:
        payload = rt.hooks.envelope(None, sender, action="created",
                                    installation=render.installation(s, inst),
                                    repositories=short, requester=None)
        rt.hooks.emit("installation", payload)
    else:
        payload = rt.hooks.envelope(None, sender, action="added",
                                    installation=render.installation(s, inst),
                                    repository_selection="selected", repositories_added=short,
                                    repositories_removed=[], requester=None)
        rt.hooks.emit("installation_repositories", payload)
    return inst


def open_pull(rt: Runtime, p: dict, body: dict) -> tuple[int, Any]:
    s, repo = rt.store, repo_of(rt.store, p)
    user = body.get("user") or repo.owner
    s.user(user, "Bot" if user.endswith("[bot]") else None)
    head, base = body["head"], body.get("base") or repo.default_branch
    base_sha = repo.refs.get(f"heads/{base}")
    if base_sha is None:
        raise ApiError(422, f"base branch {base} does not exist")
    head_repo = repo
    if body.get("fork"):
        head_repo = s.repo(body["fork"], repo.name) or create_repo(
            s, body["fork"], repo.name, None, repo.default_branch, fork_of=repo
        )
    parent = head_repo.refs.get(f"heads/{head}", base_sha)
    files = body.get("files") or {}
    sha = parent
    if files:
        sha = commit_files(s, head_repo, parent, files, body.get("message") or body.get("title")
                           or "Update", user)
    head_repo.refs[f"heads/{head}"] = sha
    pr = Pull(number=repo.next_number, id=s.next_id(), title=body.get("title") or head,
              body=body.get("body"), user=user, head_repo=head_repo.full_name, head_ref=head,
              base_ref=base, base_sha=base_sha, draft=bool(body.get("draft")),
              labels=list(body.get("labels") or []))
    repo.next_number += 1
    repo.pulls[pr.number] = pr
    if head_repo is not repo:
        for c in head_repo.commits:
            if not any(x["sha"] == c["sha"] for x in repo.commits):
                repo.commits.append(dict(c))
    payload = rt.hooks.envelope(repo, user, action="opened", number=pr.number,
                                pull_request=pull(s, repo, pr))
    rt.hooks.emit("pull_request", payload)
    return 201, {"number": pr.number, "head_sha": sha, "id": pr.id}


def push_pull(rt: Runtime, p: dict, body: dict) -> tuple[int, Any]:
    s = rt.store
    repo, pr = pull_of(s, p)
    head_repo = s.repos[pr.head_repo.lower()]
    user = body.get("user") or pr.user
    before = pull_head_sha(s, pr)
    after = commit_files(s, head_repo, before, body.get("files") or {},
                         body.get("message") or "Update", user)
    head_repo.refs[f"heads/{pr.head_ref}"] = after
    if head_repo is not repo:
        repo.commits.append(dict(head_repo.commits[-1]))
    pr.updated_at = now_iso()
    payload = rt.hooks.envelope(repo, user, action="synchronize", number=pr.number,
                                before=before, after=after, pull_request=pull(s, repo, pr))
    rt.hooks.emit("pull_request", payload)
    return 201, {"number": pr.number, "head_sha": after, "before": before}


def close_pull(rt: Runtime, p: dict, body: dict) -> tuple[int, Any]:
    s = rt.store
    repo, pr = pull_of(s, p)
    pr.state, pr.updated_at = "closed", now_iso()
    data = pull(s, repo, pr)
    data.update(closed_at=pr.updated_at)
    payload = rt.hooks.envelope(repo, body.get("user") or pr.user, action="closed",
                                number=pr.number, pull_request=data)
    rt.hooks.emit("pull_request", payload)
    return 200, {"number": pr.number, "state": pr.state}


def issue_json(store: Store, repo: Repo, pr: Pull) -> dict:
    """A pull request seen as an issue, as `issue_comment` payloads carry it."""
    data = pull(store, repo, pr, full=False)
    api = f"{store.base_url}/repos/{repo.full_name}/issues/{pr.number}"
    return {
        "url": api,
        "repository_url": f"{store.base_url}/repos/{repo.full_name}",
        "labels_url": f"{api}/labels{{/name}}",
        "comments_url": f"{api}/comments",
        "events_url": f"{api}/events",
        "html_url": data["html_url"],
        "id": pr.id,
        "node_id": render.node_id("Issue", pr.id),
        "number": pr.number,
        "title": pr.title,
        "user": data["user"],
        "labels": [],
        "state": pr.state,
        "locked": False,
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "comments": sum(1 for c in repo.comments if c["issue_number"] == pr.number),
        "created_at": pr.created_at,
        "updated_at": pr.updated_at,
        "closed_at": None,
        "author_association": data["author_association"],
        "active_lock_reason": None,
        "body": pr.body,
        "draft": False,
        "pull_request": {"url": data["url"], "html_url": data["html_url"],
                         "diff_url": data["diff_url"], "patch_url": data["patch_url"],
                         "merged_at": None},
        "reactions": {"url": f"{api}/reactions", "total_count": 0, "+1": 0, "-1": 0,
                      "laugh": 0, "hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0},
        "timeline_url": f"{api}/timeline",
        "performed_via_github_app": None,
        "state_reason": None,
    }


def post_comment(rt: Runtime, p: dict, body: dict) -> tuple[int, Any]:
    s = rt.store
    repo, pr = pull_of(s, p)
    user = body.get("user") or pr.user
    s.user(user)
    if body.get("permission"):
        repo.collaborators[user] = body["permission"]
    c = add_comment(s, repo, pr.number, body["body"], user)
    payload = rt.hooks.envelope(repo, user, action="created", issue=issue_json(s, repo, pr),
                                comment=comment(s, repo, c))
    rt.hooks.emit("issue_comment", payload)
    return 201, {"id": c["id"]}


def get_state(rt: Runtime, p: dict, body: dict) -> tuple[int, Any]:
    s, repo = rt.store, repo_of(rt.store, p)
    inst = s.installation_for(repo.full_name)
    branches = {ref.removeprefix("heads/"): sha for ref, sha in repo.refs.items()
                if ref.startswith("heads/")}
    return 200, {
        "full_name": repo.full_name,
        "installation_id": inst.id if inst else None,
        "default_branch": repo.default_branch,
        "branches": branches,
        "files": {b: git.files_at(repo.store, sha) for b, sha in branches.items()},
        "commits": list(repo.commits),
        "pulls": [{"number": pr.number, "head": pr.head_ref, "head_sha": pull_head_sha(s, pr),
                   "head_repo": pr.head_repo, "base": pr.base_ref, "user": pr.user,
                   "state": pr.state, "title": pr.title, "merged": pr.merged_at is not None,
                   "merge_commit_sha": pr.merge_commit_sha} for pr in repo.pulls.values()],
        "check_runs": [
            {**{k: r[k] for k in ("id", "name", "head_sha", "status", "conclusion", "output",
                                  "annotations", "actions", "details_url", "external_id")},
             "app": (r["app"] or {}).get("slug", s.app.slug)}
            for r in repo.check_runs
        ],
        "comments": [dict(c) for c in repo.comments],
        "reactions": [dict(r) for r in repo.reactions],
        "deployments": [{**{k: v for k, v in d.items() if k != "statuses"},
                         "statuses": [dict(x) for x in d["statuses"]]} for d in repo.deployments],
        "environments": [
            {"name": e["name"], "reviewers": list(e.get("reviewers") or []),
             "prevent_self_review": bool(e.get("prevent_self_review")),
             "wait_timer": int(e.get("wait_timer") or 0),
             "branch_policies": [b["name"] for b in e.get("branch_policies") or []],
             "protection_rules": [r["type"] for r in environment(s, repo, e)["protection_rules"]],
             "custom_rules": [r["integration_id"] for r in e.get("custom_rules") or []]}
            for e in sorted(repo.environments.values(), key=lambda e: e["name"])],
        "deployment_reviews": [dict(r) for r in repo.deployment_reviews],
        "workflow_runs": [dict(r) for r in repo.workflow_runs.values()],
        "protection_rule_reviews": [dict(r) for r in repo.protection_rule_reviews],
        "dispatches": [dict(d) for d in repo.dispatches],
        "collaborators": dict(repo.collaborators),
    }


ROUTES = [
    control(f"{P}/repos", "POST", create_repository),
    control(f"{RP}/pulls", "POST", open_pull),
    control(f"{RP}/pulls/{{number}}/push", "POST", push_pull),
    control(f"{RP}/pulls/{{number}}/close", "POST", close_pull),
    control(f"{RP}/issues/{{number}}/comments", "POST", post_comment),
    control(f"{RP}/state", "GET", get_state),
]
