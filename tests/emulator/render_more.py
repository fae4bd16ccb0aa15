"""JSON shapes of pull requests, comments, check runs, deployments and workflow runs."""

from __future__ import annotations

from tests.emulator import git
from tests.emulator.render import HTML, app, node_id, repository, user
from tests.emulator.state import Pull, Repo, Store


def pull_head_sha(store: Store, pull: Pull) -> str:
    head_repo = store.repos[pull.head_repo.lower()]
    return head_repo.refs.get(f"heads/{pull.head_ref}", pull.base_sha)


def pull_files(store: Store, repo: Repo, pull: Pull) -> list[dict]:
    head = pull.merged_head_sha or pull_head_sha(store, pull)
    # a merged PR keeps the files it had when it was merged, as on GitHub
    base_sha = pull.merged_base_sha or repo.refs.get(f"heads/{pull.base_ref}", pull.base_sha)
    base = git.merge_base(repo.store, base_sha, head) or base_sha
    return git.diff_trees(
        repo.store,
        git.read_commit(repo.store, base)["tree"],
        git.read_commit(repo.store, head)["tree"],
    )


def _branch(store: Store, repo: Repo, ref: str, sha: str) -> dict:
    return {
        "label": f"{repo.owner}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": user(store, repo.owner),
        "repo": repository(store, repo, full=False),
    }


def pull(store: Store, repo: Repo, p: Pull, *, full: bool = True) -> dict:
    api = f"{store.base_url}/repos/{repo.full_name}"
    html = f"{HTML}/{repo.full_name}/pull/{p.number}"
    head_repo = store.repos[p.head_repo.lower()]
    head_sha = p.merged_head_sha or pull_head_sha(store, p)
    base_sha = p.merged_base_sha or repo.refs.get(f"heads/{p.base_ref}", p.base_sha)
    links = {
        "self": {"href": f"{api}/pulls/{p.number}"},
        "html": {"href": html},
        "issue": {"href": f"{api}/issues/{p.number}"},
        "comments": {"href": f"{api}/issues/{p.number}/comments"},
        "review_comments": {"href": f"{api}/pulls/{p.number}/comments"},
        "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
        "commits": {"href": f"{api}/pulls/{p.number}/commits"},
        "statuses": {"href": f"{api}/statuses/{head_sha}"},
    }
    out = {
        "url": f"{api}/pulls/{p.number}",
        "id": p.id,
        "node_id": node_id("PullRequest", p.id),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": f"{api}/issues/{p.number}",
        "commits_url": f"{api}/pulls/{p.number}/commits",
        "review_comments_url": f"{api}/pulls/{p.number}/comments",
        "review_comment_url": f"{api}/pulls/comments{{/number}}",
        "comments_url": f"{api}/issues/{p.number}/comments",
        "statuses_url": f"{api}/statuses/{head_sha}",
        "number": p.number,
        "state": p.state,
        "locked": False,
        "title": p.title,
        "user": user(store, p.user),
        "body": p.body,
        "labels": [label(store, repo, name) for name in p.labels],
        "milestone": None,
        "active_lock_reason": None,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
        "closed_at": p.merged_at or (p.updated_at if p.state == "closed" else None),
        "merged_at": p.merged_at,
        "merge_commit_sha": p.merge_commit_sha,
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": _branch(store, head_repo, p.head_ref, head_sha),
        "base": _branch(store, repo, p.base_ref, base_sha),
        "_links": links,
        "author_association": _association(repo, p.user),
        "auto_merge": None,
        "draft": p.draft,
    }
    if full:
        files = pull_files(store, repo, p)
        commits = git.new_commits(repo.store, head_sha, [base_sha])
        out.update(
            merged=p.merged_at is not None,
            mergeable=None if p.merged_at else True,
            rebaseable=None if p.merged_at else True,
            mergeable_state="unknown" if p.merged_at else "clean",
            merged_by=user(store, p.merged_by) if p.merged_by else None,
            comments=sum(1 for c in repo.comments if c["issue_number"] == p.number),
            review_comments=0,
            maintainer_can_modify=False,
            commits=len(commits),
            additions=sum(f["additions"] for f in files),
            deletions=sum(f["deletions"] for f in files),
            changed_files=len(files),
        )
    return out


def label(store: Store, repo: Repo, name: str) -> dict:
    ident = 5000 + sum(map(ord, name))
    return {"id": ident, "node_id": node_id("Label", ident), "name": name,
            "url": f"{store.base_url}/repos/{repo.full_name}/labels/{name}",
            "color": "ededed", "default": False, "description": None, "archived_at": None,
            "archived_by": None}


def _association(repo: Repo, login: str) -> str:
    if login == repo.owner:
        return "OWNER"
    return "COLLABORATOR" if repo.collaborators.get(login, "none") != "none" else "NONE"


def comment(store: Store, repo: Repo, c: dict) -> dict:
    api = f"{store.base_url}/repos/{repo.full_name}"
    return {
        "id": c["id"],
        "node_id": node_id("IssueComment", c["id"]),
        "url": f"{api}/issues/comments/{c['id']}",
        "html_url": f"{HTML}/{repo.full_name}/pull/{c['issue_number']}#issuecomment-{c['id']}",
        "body": c["body"],
        "user": user(store, c["user"]),
        "created_at": c["created_at"],
        "updated_at": c["updated_at"],
        "issue_url": f"{api}/issues/{c['issue_number']}",
        "author_association": _association(repo, c["user"]),
        "performed_via_github_app": None,
        "reactions": _reaction_rollup(repo, c["id"], f"{api}/issues/comments/{c['id']}"),
    }


def _reaction_rollup(repo: Repo, comment_id: int, url: str) -> dict:
    keys = ["+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket"]
    mine = [r["content"] for r in repo.reactions if r["comment_id"] == comment_id]
    return {"url": f"{url}/reactions", "total_count": len(mine), **{k: mine.count(k) for k in keys}}


def reaction(store: Store, r: dict) -> dict:
    return {
        "id": r["id"],
        "node_id": node_id("Reaction", r["id"]),
        "user": user(store, r["user"]),
        "content": r["content"],
        "created_at": r["created_at"],
    }


def check_run(store: Store, repo: Repo, run: dict) -> dict:
    api = f"{store.base_url}/repos/{repo.full_name}"
    out = run["output"]
    prs = [
        {
            "id": p.id,
            "number": p.number,
            "url": f"{api}/pulls/{p.number}",
            "head": {"ref": p.head_ref, "sha": pull_head_sha(store, p),
                     "repo": {"id": repo.id, "url": api, "name": repo.name}},
            "base": {"ref": p.base_ref, "sha": repo.refs.get(f"heads/{p.base_ref}", p.base_sha),
                     "repo": {"id": repo.id, "url": api, "name": repo.name}},
        }
        for p in repo.pulls.values()
        if p.head_repo.lower() == repo.full_name.lower()
        and pull_head_sha(store, p) == run["head_sha"]
    ]
    owner_app = app(store, store.app) if run["app"] is None else run["app"]
    html_url = f"{HTML}/{repo.full_name}/runs/{run['id']}"
    return {
        "id": run["id"],
        "head_sha": run["head_sha"],
        "node_id": node_id("CheckRun", run["id"]),
        "external_id": run.get("external_id") or "",
        "url": f"{api}/check-runs/{run['id']}",
        "html_url": html_url,
        "details_url": run.get("details_url") or html_url,
        "status": run["status"],
        "conclusion": run["conclusion"],
        "started_at": run["started_at"],
        "completed_at": run["completed_at"],
        "output": {
            "title": out.get("title"),
            "summary": out.get("summary"),
            "text": out.get("text"),
            "annotations_count": len(run["annotations"]),
            "annotations_url": f"{api}/check-runs/{run['id']}/annotations",
        },
        "name": run["name"],
        "check_suite": {"id": run["check_suite_id"]},
        "app": owner_app,
        "pull_requests": prs,
    }


def deployment(store: Store, repo: Repo, d: dict) -> dict:
    api = f"{store.base_url}/repos/{repo.full_name}"
    return {
        "url": f"{api}/deployments/{d['id']}",
        "id": d["id"],
        "node_id": node_id("Deployment", d["id"]),
        "sha": d["sha"],
        "ref": d["ref"],
        "task": d.get("task", "deploy"),
        "payload": d.get("payload") or {},
        "original_environment": d["environment"],
        "environment": d["environment"],
        "description": d.get("description"),
        "creator": user(store, d["creator"]),
        "created_at": d["created_at"],
        "updated_at": d["created_at"],
        "statuses_url": f"{api}/deployments/{d['id']}/statuses",
        "repository_url": api,
        "transient_environment": False,
        "production_environment": d["environment"] == "production",
    }


def deployment_status(store: Store, repo: Repo, d: dict, s: dict) -> dict:
    api = f"{store.base_url}/repos/{repo.full_name}"
    return {
        "url": f"{api}/deployments/{d['id']}/statuses/{s['id']}",
        "id": s["id"],
        "node_id": node_id("DeploymentStatus", s["id"]),
        "state": s["state"],
        "creator": user(store, s["creator"]),
        "description": s.get("description") or "",
        "environment": d["environment"],
        "target_url": s.get("target_url") or "",
        "log_url": s.get("log_url") or "",
        "environment_url": s.get("environment_url") or "",
        "created_at": s["created_at"],
        "updated_at": s["created_at"],
        "deployment_url": f"{api}/deployments/{d['id']}",
        "repository_url": api,
    }


def environment(store: Store, repo: Repo, env: dict) -> dict:
    api = f"{store.base_url}/repos/{repo.full_name}"
    rules: list[dict] = []
    if env.get("wait_timer"):
        rules.append({"id": env["id"] + 2, "node_id": node_id("Rule", env["id"] + 2),
                      "type": "wait_timer", "wait_timer": env["wait_timer"]})
    if env.get("reviewers"):
        from tests.emulator.render_trunk import reviewer

        rules.append({"id": env["id"] + 3, "node_id": node_id("Rule", env["id"] + 3),
                      "type": "required_reviewers",
                      "prevent_self_review": bool(env.get("prevent_self_review")),
                      "reviewers": [reviewer(store, repo, r) for r in env["reviewers"]]})
    if env.get("branch_policies"):
        rules.append({"id": env["id"] + 4, "node_id": node_id("Rule", env["id"] + 4),
                      "type": "branch_policy"})
    if env.get("protection_rule", True):
        rules.append({"id": env["id"] + 1, "node_id": node_id("Rule", env["id"]),
                      "type": "custom"})
    return {
        "id": env["id"],
        "node_id": node_id("Environment", env["id"]),
        "name": env["name"],
        "url": f"{api}/environments/{env['name']}",
        "html_url": f"{HTML}/{repo.full_name}/deployments/{env['name']}",
        "created_at": env["created_at"],
        "updated_at": env.get("updated_at", env["created_at"]),
        "protection_rules": rules,
        "deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": True}
        if env.get("branch_policies") else None,
    }


def workflow_run(store: Store, repo: Repo, run: dict) -> dict:
    api = f"{store.base_url}/repos/{repo.full_name}"
    url = f"{api}/actions/runs/{run['id']}"
    c = git.read_commit(repo.store, run["head_sha"])
    return {
        "id": run["id"],
        "name": run["name"],
        "node_id": node_id("WorkflowRun", run["id"]),
        "head_branch": run["ref"].removeprefix("refs/heads/"),
        "head_sha": run["head_sha"],
        "path": run["path"],
        "display_title": run["name"],
        "run_number": run["run_number"],
        "run_attempt": 1,
        "event": run["event"],
        "status": run["status"],
        "conclusion": run["conclusion"],
        "workflow_id": run["workflow_id"],
        "url": url,
        "html_url": f"{HTML}/{repo.full_name}/actions/runs/{run['id']}",
        "pull_requests": [],
        "created_at": run["created_at"],
        "updated_at": run["created_at"],
        "run_started_at": run["created_at"],
        "jobs_url": f"{url}/jobs",
        "logs_url": f"{url}/logs",
        "check_suite_url": f"{api}/check-suites/{run['id']}",
        "artifacts_url": f"{url}/artifacts",
        "cancel_url": f"{url}/cancel",
        "rerun_url": f"{url}/rerun",
        "workflow_url": f"{api}/actions/workflows/{run['workflow_id']}",
        "head_commit": {
            "id": run["head_sha"],
            "tree_id": c["tree"],
            "message": c["message"],
            "timestamp": c["committer"]["date"],
            "author": {"name": c["author"]["name"], "email": c["author"]["email"]},
            "committer": {"name": c["committer"]["name"], "email": c["committer"]["email"]},
        },
        "repository": repository(store, repo, full=False),
        "head_repository": repository(store, repo, full=False),
    }
