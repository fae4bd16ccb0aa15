"""Commits' pull requests, run approvals, environment settings and custom protection rules,
and the users and teams environment reviewers name."""

from __future__ import annotations

from tests.emulator import git, render
from tests.emulator.api import ApiError, Ctx, Result, api, not_found, paginate
from tests.emulator.render_more import environment, pull, pull_head_sha
from tests.emulator.render_trunk import approval, team
from tests.emulator.routes_deploy import ensure_environment
from tests.emulator.state import now_iso

R = "/repos/{owner}/{repo}"
E = f"{R}/environments/{{environment_name}}"


def commit_pulls(ctx: Ctx) -> Result:
    """The merged PR that brought a commit to its base, else the open PRs that contain it."""
    repo, sha = ctx.need_repo(), ctx.params["commit_sha"]
    if not git.has(repo.store, sha):
        raise ApiError(422, f"No commit found for SHA: {sha}")
    merged = [p for p in repo.pulls.values() if sha in p.merged_commits]
    found = merged or [
        p for p in repo.pulls.values() if p.state == "open"
        and sha in git.new_commits(repo.store, pull_head_sha(ctx.store, p),
                                   [repo.refs.get(f"heads/{p.base_ref}", p.base_sha)])
    ]
    items = [pull(ctx.store, repo, p, full=False) for p in sorted(found, key=lambda p: -p.number)]
    return paginate(ctx, items, f"{ctx.store.base_url}{ctx.request.url.path}")


def run_approvals(ctx: Ctx) -> Result:
    repo = ctx.need_repo()
    run_id = int(ctx.params["run_id"])
    if run_id not in repo.workflow_runs:
        raise not_found()
    return 200, [approval(ctx.store, repo, r) for r in repo.deployment_reviews
                 if r["run_id"] == run_id]


def _admin(ctx: Ctx) -> None:
    """Environment settings need `administration: write`, which the App does not ask for;
    a repository admin's own token (see the control API's user tokens) has it."""
    if ctx.user is not None:
        from tests.emulator.routes_pulls import permission_of

        if permission_of(ctx.need_repo(), ctx.user) != "admin":
            raise ApiError(403, "Must have admin rights to Repository.")
    elif ctx.store.app.permissions.get("administration") != "write":
        raise ApiError(403, "Resource not accessible by integration")


def _reviewer_ref(ctx: Ctx, r: dict) -> dict:
    ident = r.get("id")
    if r.get("type") == "Team":
        slug = next((s for (org, s), i in ctx.store.team_ids.items() if i == ident), None)
        if slug is None:
            raise ApiError(422, f"Reviewer team {ident} does not exist")
        return {"type": "Team", "slug": slug}
    login = next((u.login for u in ctx.store.users.values() if u.id == ident), None)
    if login is None:
        raise ApiError(422, f"Reviewer user {ident} does not exist")
    return {"type": "User", "login": login}


def put_environment(ctx: Ctx) -> Result:
    _admin(ctx)
    repo = ctx.need_repo()
    env = ensure_environment(ctx.store, repo, ctx.params["environment_name"])
    body = ctx.body if isinstance(ctx.body, dict) else {}
    if body.get("reviewers") is not None:
        env["reviewers"] = [_reviewer_ref(ctx, r) for r in body["reviewers"]]
    if "prevent_self_review" in body:
        env["prevent_self_review"] = bool(body["prevent_self_review"])
    if "wait_timer" in body:
        env["wait_timer"] = int(body["wait_timer"] or 0)
    if "deployment_branch_policy" in body:
        policy = body["deployment_branch_policy"]
        env["custom_branch_policies"] = bool(policy)
        if not policy:  # any branch may deploy again
            env["branch_policies"] = []
    env["updated_at"] = now_iso()
    return 200, environment(ctx.store, repo, env)


def _env(ctx: Ctx) -> dict:
    env = ctx.need_repo().environments.get(ctx.params["environment_name"])
    if env is None:
        raise not_found()
    return env


def _rule(ctx: Ctx, rule: dict) -> dict:
    a = ctx.store.app
    return {"id": rule["id"], "node_id": render.node_id("DeploymentProtectionRule", rule["id"]),
            "enabled": True, "app": {"id": a.id, "slug": a.slug, "node_id":
                                     render.node_id("Integration", a.id),
                                     "integration_url": f"{ctx.store.base_url}/apps/{a.slug}"}}


def list_rules(ctx: Ctx) -> Result:
    env = _env(ctx)
    rules = [_rule(ctx, r) for r in env.get("custom_rules") or []]
    return 200, {"total_count": len(rules), "custom_deployment_protection_rules": rules}


def add_rule(ctx: Ctx) -> Result:
    _admin(ctx)
    env = _env(ctx)
    integration = ctx.field("integration_id")
    if integration != ctx.store.app.id:
        raise ApiError(422, f"Integration {integration} is not installed on this repository")
    rules = env.setdefault("custom_rules", [])
    if rules:
        raise ApiError(422, "Validation Failed: the integration is already enabled")
    rules.append({"id": ctx.store.next_id(), "integration_id": integration})
    env["protection_rule"] = True
    return 201, _rule(ctx, rules[0])


def list_branch_policies(ctx: Ctx) -> Result:
    env = _env(ctx)
    items = [{"id": b["id"], "node_id": render.node_id("BranchPolicy", b["id"]),
              "name": b["name"], "type": b.get("type", "branch")}
             for b in env.get("branch_policies") or []]
    return 200, {"total_count": len(items), "branch_policies": items}


def add_branch_policy(ctx: Ctx) -> Result:
    _admin(ctx)
    env = _env(ctx)
    if not env.get("custom_branch_policies"):
        raise ApiError(404, "Not Found: custom branch policies are not enabled")
    name = ctx.field("name")
    policies = env.setdefault("branch_policies", [])
    if any(b["name"] == name for b in policies):
        raise ApiError(303, "A branch policy with this name already exists")
    b = {"id": ctx.store.next_id(), "name": name, "type": ctx.field("type", "branch")}
    policies.append(b)
    return 200, {**b, "node_id": render.node_id("BranchPolicy", b["id"])}


def get_user(ctx: Ctx) -> Result:
    login = ctx.params["username"]
    if login not in ctx.store.users:
        raise not_found()
    return 200, {**render.user(ctx.store, login), "name": None, "company": None, "blog": "",
                 "location": None, "email": None, "hireable": None, "bio": None,
                 "public_repos": 0, "public_gists": 0, "followers": 0, "following": 0,
                 "created_at": now_iso(0), "updated_at": now_iso(0)}


def get_team(ctx: Ctx) -> Result:
    org, slug = ctx.params["org"], ctx.params["team_slug"]
    if (org.lower(), slug.lower()) not in ctx.store.teams:
        raise not_found()
    return 200, {**team(ctx.store, org, slug), "members_count": len(
        ctx.store.teams[(org.lower(), slug.lower())])}


ROUTES = [
    api(f"{R}/commits/{{commit_sha}}/pulls", "GET", commit_pulls),
    api(f"{R}/actions/runs/{{run_id}}/approvals", "GET", run_approvals),
    api(E, "PUT", put_environment, mode="user_or_token"),
    api(f"{E}/deployment_protection_rules", "GET", list_rules, mode="user_or_token"),
    api(f"{E}/deployment_protection_rules", "POST", add_rule, mode="user_or_token"),
    api(f"{E}/deployment-branch-policies", "GET", list_branch_policies, mode="user_or_token"),
    api(f"{E}/deployment-branch-policies", "POST", add_branch_policy, mode="user_or_token"),
    api("/users/{username}", "GET", get_user, mode="user_or_token"),
    api("/orgs/{org}/teams/{team_slug}", "GET", get_team, mode="user_or_token"),
]
