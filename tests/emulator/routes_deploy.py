"""Deployments, statuses, environments, workflow runs, protection rules and dispatches."""

from __future__ import annotations

from tests.emulator import git
from tests.emulator.api import ApiError, Ctx, Result, api, not_found, paginate
from tests.emulator.render_more import deployment, deployment_status, environment, workflow_run
from tests.emulator.repos import resolve
from tests.emulator.state import Repo, Store, now_iso

R = "/repos/{owner}/{repo}"
STATES = {"error", "failure", "inactive", "in_progress", "queued", "pending", "success"}
MAX_REPORTS = 10
MAX_COMMENT = 1024


def new_deployment(store: Store, repo: Repo, sha: str, ref: str, env: str, creator: str,
                   **extra: object) -> dict:
    d = {"id": store.next_id(), "sha": sha, "ref": ref, "environment": env, "creator": creator,
         "created_at": now_iso(), "statuses": [], **extra}
    repo.deployments.append(d)
    ensure_environment(store, repo, env)
    return d


def ensure_environment(store: Store, repo: Repo, name: str) -> dict:
    if name not in repo.environments:
        repo.environments[name] = {"id": store.next_id(), "name": name, "created_at": now_iso()}
    return repo.environments[name]


def add_status(store: Store, d: dict, state: str, creator: str, **extra: object) -> dict:
    s = {"id": store.next_id(), "state": state, "creator": creator, "created_at": now_iso(),
         **extra}
    d["statuses"].append(s)
    return s


def advance_run(store: Store, repo: Repo, run: dict, env: str, state: str) -> None:
    """One gate of `env` (a protection rule, a required review) answered: the job fails on a
    rejection, and runs once nothing is left to wait for."""
    if state == "approved" and (env in run["pending_environments"]
                                or env in run.get("review_pending", [])):
        return
    waiting = run["pending_environments"] or run.get("review_pending")
    if state == "approved":
        run["status"] = "waiting" if waiting else "in_progress"
    else:
        run.update(status="completed", conclusion="failure")
    for d in repo.deployments:
        if d.get("workflow_run_id") == run["id"] and d["environment"] == env:
            add_status(store, d, "in_progress" if state == "approved" else "failure",
                       "github-actions[bot]")


def _invalid(msg: str) -> ApiError:
    return ApiError(422, f"Invalid request.\n\n{msg}")


def create_deployment(ctx: Ctx) -> Result:
    repo = ctx.need_repo()
    ref = ctx.field("ref")
    sha = resolve(ctx.store, repo, ref)
    if sha is None:
        raise ApiError(422, f"No ref found for: {ref}")
    d = new_deployment(
        ctx.store, repo, sha, ref, ctx.field("environment", "production"), ctx.bot,
        task=ctx.field("task", "deploy"), payload=ctx.field("payload", {}),
        description=ctx.field("description", None),
    )
    payload = ctx.hooks.envelope(repo, ctx.bot, action="created",
                                 deployment=deployment(ctx.store, repo, d),
                                 workflow=None, workflow_run=None)
    ctx.hooks.emit("deployment", payload)
    return 201, deployment(ctx.store, repo, d)


def list_deployments(ctx: Ctx) -> Result:
    repo = ctx.need_repo()
    q = ctx.query
    items = [
        deployment(ctx.store, repo, d) for d in reversed(repo.deployments)
        if all(not q.get(k) or str(d.get(k)) == q[k] for k in ("sha", "ref", "environment", "task"))
    ]
    return paginate(ctx, items, f"{ctx.store.base_url}{ctx.request.url.path}")


def _deployment(ctx: Ctx) -> dict:
    did = int(ctx.params["deployment_id"])
    found = next((d for d in ctx.need_repo().deployments if d["id"] == did), None)
    if found is None:
        raise not_found()
    return found


def get_deployment(ctx: Ctx) -> Result:
    return 200, deployment(ctx.store, ctx.need_repo(), _deployment(ctx))


def create_status(ctx: Ctx) -> Result:
    repo, d = ctx.need_repo(), _deployment(ctx)
    state = ctx.field("state")
    if state not in STATES:
        raise _invalid(f"state {state!r} is not valid")
    extra = {k: ctx.field(k, None) for k in ("description", "environment_url", "log_url",
                                             "target_url")}
    s = add_status(ctx.store, d, state, ctx.bot, **extra)
    payload = ctx.hooks.envelope(
        repo, ctx.bot, action="created",
        deployment_status=deployment_status(ctx.store, repo, d, s),
        deployment=deployment(ctx.store, repo, d),
    )
    ctx.hooks.emit("deployment_status", payload)
    return 201, deployment_status(ctx.store, repo, d, s)


def list_statuses(ctx: Ctx) -> Result:
    repo, d = ctx.need_repo(), _deployment(ctx)
    items = [deployment_status(ctx.store, repo, d, s) for s in reversed(d["statuses"])]
    return paginate(ctx, items, f"{ctx.store.base_url}{ctx.request.url.path}")


def list_environments(ctx: Ctx) -> Result:
    repo = ctx.need_repo()
    envs = [environment(ctx.store, repo, e) for e in repo.environments.values()]
    return 200, {"total_count": len(envs), "environments": envs}


def get_environment(ctx: Ctx) -> Result:
    env = ctx.need_repo().environments.get(ctx.params["name"])
    if env is None:
        raise not_found()
    return 200, environment(ctx.store, ctx.need_repo(), env)


def _workflow_run(ctx: Ctx) -> dict:
    run = ctx.need_repo().workflow_runs.get(int(ctx.params["run_id"]))
    if run is None:
        raise not_found()
    return run


def get_workflow_run(ctx: Ctx) -> Result:
    return 200, workflow_run(ctx.store, ctx.need_repo(), _workflow_run(ctx))


def protection_rule(ctx: Ctx) -> Result:
    """Approve/reject a run waiting on an environment, or add a status report (no state)."""
    repo, run = ctx.need_repo(), _workflow_run(ctx)
    env = ctx.field("environment_name")
    state = ctx.field("state", None)
    comment = ctx.field("comment", None)
    if comment is not None and len(comment) > MAX_COMMENT:
        raise _invalid(f"comment is too long (maximum is {MAX_COMMENT} characters)")
    if env not in run["pending_environments"] and env not in run["environments"]:
        raise _invalid(f"No pending deployment requests for environment {env}")
    mine = [r for r in repo.protection_rule_reviews
            if r["run_id"] == run["id"] and r["environment"] == env]
    if state is None:
        if sum(1 for r in mine if r["state"] is None) >= MAX_REPORTS:
            raise _invalid(f"Only {MAX_REPORTS} status reports are allowed per deployment")
    elif state not in ("approved", "rejected"):
        raise _invalid(f"state {state!r} is not valid")
    elif env not in run["pending_environments"] or run["status"] == "completed":
        raise _invalid("No pending deployment requests to approve or reject")
    else:
        run["pending_environments"].remove(env)
        advance_run(ctx.store, repo, run, env, state)
    repo.protection_rule_reviews.append(
        {"run_id": run["id"], "environment": env, "state": state, "comment": comment,
         "user": ctx.bot, "created_at": now_iso()}
    )
    return 204, None


def dispatch(ctx: Ctx) -> Result:
    repo = ctx.need_repo()
    ref = ctx.field("ref")
    if resolve(ctx.store, repo, ref) is None:
        raise ApiError(422, f"No ref found for: {ref}")
    workflow = ctx.params["workflow_id"]
    head = resolve(ctx.store, repo, ref)
    assert head is not None
    known = git.flatten(repo.store, git.read_commit(repo.store, head)["tree"])
    if not workflow.isdigit() and f".github/workflows/{workflow}" not in known:
        raise not_found()
    inputs = ctx.field("inputs", None) or {}
    if len(inputs) > 25:
        raise _invalid("inputs has more than 25 properties")
    repo.dispatches.append({"workflow": workflow, "ref": ref, "inputs": inputs,
                            "user": ctx.bot, "created_at": now_iso()})
    return 204, None


ROUTES = [
    api(f"{R}/deployments", "POST", create_deployment),
    api(f"{R}/deployments", "GET", list_deployments),
    api(f"{R}/deployments/{{deployment_id}}", "GET", get_deployment),
    api(f"{R}/deployments/{{deployment_id}}/statuses", "POST", create_status),
    api(f"{R}/deployments/{{deployment_id}}/statuses", "GET", list_statuses),
    api(f"{R}/environments", "GET", list_environments, mode="user_or_token"),
    api(f"{R}/environments/{{name}}", "GET", get_environment, mode="user_or_token"),
    api(f"{R}/actions/runs/{{run_id}}", "GET", get_workflow_run),
    api(f"{R}/actions/runs/{{run_id}}/deployment_protection_rule", "POST", protection_rule),
    api(f"{R}/actions/workflows/{{workflow_id}}/dispatches", "POST", dispatch),
]
