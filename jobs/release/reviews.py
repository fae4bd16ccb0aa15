"""GitHub's own required reviewers: approvals and rejections given in the "Review
deployments" dialog count in shipcrew's approval gate, under the same rules.

The source of truth is `GET /repos/{o}/{r}/actions/runs/{run_id}/approvals`, read on every
evaluation of a run's gate (the `deployment_review` webhook only says "look again"). An
approval counts like `/crew approve` does: the approver's permission or team, the count,
separation of duties (not the PR author nor the last pusher of the change). A rejection
there ends the gate: GitHub has failed the job already, and shipcrew says so.
"""

from __future__ import annotations

from typing import Any

import redis
from githubkit.exception import RequestFailed
from pydantic import BaseModel

from app.context import JobContext, job_context
from app.github import ClientFactory, body
from app.logs import bound_delivery
from jobs.release import store as gate_store
from jobs.release.evidence import permission_of, teams_of
from jobs.release.gates import Approval, GateDecision, GateResult

WHERE = "GitHub review"


class Rejection(BaseModel):
    user: str
    environment: str
    comment: str = ""


def native_reviews(ctx: JobContext, run_id: int, sha: str,
                   teams: list[str]) -> tuple[list[Approval], list[Rejection]]:
    """The run's reviews as approvals (bound to `sha`, the run's commit) and rejections."""
    if not run_id:
        return [], []
    try:
        items = body(ctx.gh.rest.actions.get_reviews_for_run(ctx.owner, ctx.name, run_id))
    except RequestFailed as exc:
        if exc.response.status_code in (403, 404):
            return [], []
        raise
    approvals: list[Approval] = []
    rejections: list[Rejection] = []
    known: dict[str, tuple[str, list[str]]] = {}
    for item in items if isinstance(items, list) else []:
        user = str((item.get("user") or {}).get("login") or "")
        envs = [str(e.get("name")) for e in item.get("environments") or [] if e.get("name")]
        comment = str(item.get("comment") or "")[:200]
        if not user:
            continue
        if item.get("state") == "rejected":
            rejections += [Rejection(user=user, environment=e, comment=comment) for e in envs]
            continue
        if item.get("state") != "approved":
            continue
        if user not in known:
            known[user] = (permission_of(ctx, user), teams_of(ctx, user, teams) if teams else [])
        permission, member = known[user]
        approvals += [Approval(user=user, environment=e, permission=permission, teams=member,
                               at=gate_store.clock(), note=comment, sha=sha, via=WHERE)
                      for e in envs]
    return approvals, rejections


def with_rejections(decision: GateDecision, rejections: list[Rejection]) -> GateDecision:
    """A rejection in GitHub's dialog for this environment ends the gate."""
    mine = [r for r in rejections if r.environment.lower() == decision.environment.lower()]
    if not mine:
        return decision
    who = ", ".join(f"@{r.user}" + (f" ({r.comment})" if r.comment else "") for r in mine)
    results = [r for r in decision.results if r.kind != "approval"]
    results.append(GateResult(kind="approval", state="failed",
                              reason=f"approval: rejected in {WHERE} by {who}"))
    return GateDecision(state="rejected", environment=decision.environment, sha=decision.sha,
                        results=results)


def on_deployment_review(
    *, installation_id: int, repo: str, delivery_id: str, run_id: int, environments: list[str],
    state: str, reviewer: str,
    conn: redis.Redis | None = None, factory: ClientFactory | None = None,
) -> dict[str, Any]:
    from jobs.release.github import evaluate

    with bound_delivery(delivery_id):
        ctx = job_context(installation_id, repo, delivery_id, conn, factory)
        store = gate_store.GateStore(ctx.conn, repo)
        ctx.audit.record("native_review", repo=repo, run_id=run_id, environments=environments,
                         state=state, who=reviewer)
        decided = []
        for env in environments:
            gate = store.gate(run_id, env)
            if gate is not None:
                d = evaluate(ctx, store, gate, trigger=f"{WHERE}: {state} by @{reviewer}")
                decided.append({"environment": env, "state": d.state})
        return {"status": "reevaluated" if decided else "nothing pending",
                "decisions": decided}
