"""JSON shapes of pushes, environment protection rules and deployment reviews."""

from __future__ import annotations

from tests.emulator import git, render
from tests.emulator.render import HTML, node_id, repository, user
from tests.emulator.render_more import environment, workflow_run
from tests.emulator.state import Repo, Store

ZERO = "0" * 40


def push_commit(store: Store, repo: Repo, sha: str) -> dict:
    c = git.read_commit(repo.store, sha)
    before = git.flatten(repo.store, git.read_commit(repo.store, c["parents"][0])["tree"]) \
        if c["parents"] else {}
    after = git.flatten(repo.store, c["tree"])

    def who(role: str) -> dict:
        sig = c[role]
        out = {"name": sig["name"], "email": sig["email"], "date": sig["date"]}
        login = render._login_for(store, sig["email"])
        return {**out, "username": login} if login else out

    return {
        "id": sha, "tree_id": c["tree"], "distinct": True, "message": c["message"],
        "timestamp": c["committer"]["date"], "url": f"{HTML}/{repo.full_name}/commit/{sha}",
        "author": who("author"), "committer": who("committer"),
        "added": sorted(set(after) - set(before)),
        "removed": sorted(set(before) - set(after)),
        "modified": sorted(p for p in set(after) & set(before) if after[p] != before[p]),
    }


def push(store: Store, repo: Repo, ref: str, before: str | None, after: str,
         pusher: str) -> dict:
    """The fields of a `push` event (the envelope adds repository, sender, installation)."""
    shas = git.new_commits(repo.store, after, [before] if before else [])
    repo_json = repository(store, repo, full=False)
    repo_json.update(stargazers=0, master_branch=repo.default_branch)
    return {
        "ref": f"refs/heads/{ref}", "before": before or ZERO, "after": after,
        "created": before is None, "deleted": False, "forced": False, "base_ref": None,
        "compare": f"{HTML}/{repo.full_name}/compare/{(before or ZERO)[:12]}...{after[:12]}",
        "commits": [push_commit(store, repo, s) for s in reversed(shas)],
        "head_commit": push_commit(store, repo, after),
        "pusher": {"name": pusher, "email": render.email_for(store, pusher)},
        "repository": repo_json,
    }


def team(store: Store, org: str, slug: str) -> dict:
    key = (org.lower(), slug.lower())
    ident = store.team_ids.setdefault(key, store.next_id())
    api = f"{store.base_url}/orgs/{org}/teams/{slug}"
    return {"id": ident, "node_id": node_id("Team", ident), "name": slug, "slug": slug,
            "description": None, "privacy": "closed", "notification_setting":
            "notifications_enabled", "permission": "pull", "url": api,
            "html_url": f"{HTML}/orgs/{org}/teams/{slug}", "members_url":
            f"{api}/members{{/member}}", "repositories_url": f"{api}/repos", "parent": None}


def reviewer(store: Store, repo: Repo, r: dict) -> dict:
    if r["type"] == "Team":
        return {"type": "Team", "reviewer": team(store, repo.owner, r["slug"])}
    return {"type": "User", "reviewer": user(store, r["login"])}


def review_payload(store: Store, repo: Repo, run: dict, env: dict, *, since: str,
                   teams: bool = True) -> dict:
    """Fields every `deployment_review` event carries (the envelope adds the rest).

    The official schema of `approved` / `rejected` allows only User reviewers (`teams=False`
    leaves team reviewers out there); `requested` names both."""
    job = {"id": run["id"] + 1, "name": None, "status": "waiting", "conclusion": None,
           "html_url": f"{HTML}/{repo.full_name}/actions/runs/{run['id']}",
           "created_at": run["created_at"], "updated_at": run["created_at"],
           "environment": env["name"]}
    wr = workflow_run(store, repo, run)
    actor = user(store, run.get("actor") or repo.owner)
    wr.update(check_suite_id=run["id"] + 2, check_suite_node_id=node_id("CheckSuite", run["id"]),
              actor=actor, triggering_actor=actor)
    return {"workflow_run": wr, "since": since, "workflow_job_run": job,
            "workflow_job_runs": [job],
            "reviewers": [reviewer(store, repo, r) for r in env.get("reviewers") or []
                          if teams or r["type"] == "User"]}


def approval(store: Store, repo: Repo, review: dict) -> dict:
    """One item of `GET /repos/{o}/{r}/actions/runs/{id}/approvals`."""
    env = repo.environments[review["environment"]]
    return {"environments": [environment(store, repo, env)], "state": review["state"],
            "user": user(store, review["user"]), "comment": review.get("comment") or ""}
