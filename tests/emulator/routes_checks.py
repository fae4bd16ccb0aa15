"""Check runs: create, update, read, list by ref; GitHub's limits enforced."""

from __future__ import annotations

from tests.emulator import git, render
from tests.emulator.api import ApiError, Ctx, Result, api, not_found, paginate
from tests.emulator.hooks import Hooks
from tests.emulator.render_more import check_run
from tests.emulator.repos import resolve
from tests.emulator.state import Repo, Store, now_iso

R = "/repos/{owner}/{repo}"
MAX_TEXT = 65535
MAX_ANNOTATIONS = 50
LEVELS = {"notice", "warning", "failure"}
CONCLUSIONS = {"action_required", "cancelled", "failure", "neutral", "success", "skipped",
               "stale", "timed_out"}


def _invalid(msg: str) -> ApiError:
    return ApiError(422, f"Invalid request.\n\n{msg}")


def check_limits(body: dict) -> None:
    output = body.get("output") or {}
    for key in ("title", "summary", "text"):
        value = output.get(key)
        if value is not None and len(value) > MAX_TEXT:
            raise _invalid(f"output.{key} is too long (maximum is {MAX_TEXT} characters)")
    annotations = output.get("annotations") or []
    if len(annotations) > MAX_ANNOTATIONS:
        raise _invalid(f"Only {MAX_ANNOTATIONS} annotations are allowed per request "
                       f"(got {len(annotations)})")
    for a in annotations:
        missing = [k for k in ("path", "start_line", "end_line", "annotation_level", "message")
                   if k not in a]
        if missing:
            raise _invalid(f"annotation is missing {', '.join(missing)}")
        if a["annotation_level"] not in LEVELS:
            raise _invalid(f"annotation_level {a['annotation_level']!r} is not valid")
        if a["start_line"] != a["end_line"] and ("start_column" in a or "end_column" in a):
            raise _invalid("start_column and end_column need start_line == end_line")
    actions = body.get("actions") or []
    if len(actions) > 3:
        raise _invalid("actions has more than 3 items")
    for action in actions:
        for key, limit in (("label", 20), ("description", 40), ("identifier", 20)):
            if len(action.get(key) or "") > limit:
                raise _invalid(f"actions.{key} is too long (maximum is {limit} characters)")
    conclusion = body.get("conclusion")
    if conclusion is not None and conclusion not in CONCLUSIONS:
        raise _invalid(f"conclusion {conclusion!r} is not valid")
    if body.get("status") == "completed" and not conclusion and "completed_at" not in body:
        raise _invalid("conclusion is required when status is completed")


def _apply(run: dict, body: dict) -> None:
    for key in ("name", "details_url", "external_id", "started_at"):
        if key in body:
            run[key] = body[key]
    if body.get("status"):
        run["status"] = body["status"]
    if body.get("conclusion"):
        run["conclusion"] = body["conclusion"]
        run["status"] = "completed"
    if run["status"] == "completed" and not run["completed_at"]:
        run["completed_at"] = body.get("completed_at") or now_iso()
    output = body.get("output")
    if output:
        run["output"].update({k: output[k] for k in ("title", "summary", "text") if k in output})
        run["annotations"].extend(output.get("annotations") or [])
    if "actions" in body:
        run["actions"] = list(body["actions"])


def new_run(store: Store, repo: Repo, body: dict, app: dict | None) -> dict:
    run = {
        "id": store.next_id(),
        "name": body["name"],
        "head_sha": body["head_sha"],
        "status": "queued",
        "conclusion": None,
        "started_at": now_iso(),
        "completed_at": None,
        "details_url": None,
        "external_id": None,
        "output": {"title": None, "summary": None, "text": None},
        "annotations": [],
        "actions": [],
        "app": app,
        "check_suite_id": store.next_id(),
    }
    _apply(run, body)
    repo.check_runs.append(run)
    store.check_run_index[run["id"]] = repo.full_name
    return run


def webhook_run(store: Store, repo: Repo, run: dict) -> dict:
    """A check run as webhooks carry it: with a full check suite."""
    out = check_run(store, repo, run)
    suite_id = run["check_suite_id"]
    out["check_suite"] = {
        "id": suite_id,
        "node_id": render.node_id("CheckSuite", suite_id),
        "head_branch": None,
        "head_sha": run["head_sha"],
        "status": run["status"],
        "conclusion": run["conclusion"],
        "url": f"{store.base_url}/repos/{repo.full_name}/check-suites/{suite_id}",
        "before": None,
        "after": run["head_sha"],
        "pull_requests": out["pull_requests"],
        "app": out["app"],
        "created_at": run["started_at"],
        "updated_at": run["completed_at"] or run["started_at"],
    }
    return out


def deliver(hooks: Hooks, repo: Repo, run: dict, action: str, sender: str, **extra: object) -> None:
    payload = hooks.envelope(repo, sender, action=action,
                             check_run=webhook_run(hooks.store, repo, run), **extra)
    hooks.emit("check_run", payload)


def create(ctx: Ctx) -> Result:
    repo = ctx.need_repo()
    body = ctx.body if isinstance(ctx.body, dict) else {}
    ctx.field("name"), ctx.field("head_sha")
    if not git.has(repo.store, body["head_sha"]):
        raise _invalid("No commit found for SHA: " + body["head_sha"])
    check_limits(body)
    run = new_run(ctx.store, repo, body, None)
    deliver(ctx.hooks, repo, run, "created", ctx.bot)
    if run["status"] == "completed":
        deliver(ctx.hooks, repo, run, "completed", ctx.bot)
    return 201, check_run(ctx.store, repo, run)


def _run(ctx: Ctx) -> dict:
    rid = int(ctx.params["check_run_id"])
    run = next((r for r in ctx.need_repo().check_runs if r["id"] == rid), None)
    if run is None:
        raise not_found()
    return run


def update(ctx: Ctx) -> Result:
    repo, run = ctx.need_repo(), _run(ctx)
    if run["app"] is not None:
        raise ApiError(403, f"Invalid app_id `{ctx.store.app.id}` - check run can only be "
                       "modified by the GitHub App that created it.")
    body = ctx.body if isinstance(ctx.body, dict) else {}
    check_limits(body)
    was_completed = run["status"] == "completed"
    _apply(run, body)
    if run["status"] == "completed" and not was_completed:
        deliver(ctx.hooks, repo, run, "completed", ctx.bot)
    return 200, check_run(ctx.store, repo, run)


def get(ctx: Ctx) -> Result:
    return 200, check_run(ctx.store, ctx.need_repo(), _run(ctx))


def annotations(ctx: Ctx) -> Result:
    run = _run(ctx)
    items = [
        {"path": a["path"], "start_line": a["start_line"], "end_line": a["end_line"],
         "start_column": a.get("start_column"), "end_column": a.get("end_column"),
         "annotation_level": a["annotation_level"], "title": a.get("title"),
         "message": a["message"], "raw_details": a.get("raw_details"), "blob_href": ""}
        for a in run["annotations"]
    ]
    return paginate(ctx, items, f"{ctx.store.base_url}{ctx.request.url.path}")


def list_for_ref(ctx: Ctx) -> Result:
    repo = ctx.need_repo()
    sha = resolve(ctx.store, repo, ctx.params["ref"])
    if sha is None:
        raise _invalid(f"No commit found for SHA: {ctx.params['ref']}")
    name = ctx.query.get("check_name")
    status = ctx.query.get("status")
    runs = [
        check_run(ctx.store, repo, r)
        for r in reversed(repo.check_runs)
        if r["head_sha"] == sha and (not name or r["name"] == name)
        and (not status or r["status"] == status)
    ]
    return 200, {"total_count": len(runs), "check_runs": runs}


ROUTES = [
    api(f"{R}/check-runs", "POST", create),
    api(f"{R}/check-runs/{{check_run_id}}", "PATCH", update),
    api(f"{R}/check-runs/{{check_run_id}}", "GET", get),
    api(f"{R}/check-runs/{{check_run_id}}/annotations", "GET", annotations),
    api(f"{R}/commits/{{ref}}/check-runs", "GET", list_for_ref),
]
