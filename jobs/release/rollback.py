"""Deployment orchestrator: follow `deployment_status`, roll failures back, dispatch deployments.

History lives in Redis (`GateStore`); the pure parts are `jobs.release.history` (what is a good
version, what to roll back to) and the workflow helpers below. A rollback is a dispatch of
the delivery workflow for the last good version, so it passes the same gates as any
deployment: GitHub asks the protection rule again.
"""

from __future__ import annotations

from typing import Any

import redis
from pydantic import BaseModel
from rq import get_current_job

from app import comments
from app.config import RepoConfig
from app.context import JobContext, job_context
from app.github import ClientFactory, own_identity
from app.logs import bound_delivery
from jobs.release import store as gate_store
from jobs.release.dispatch import branch_at, dispatch
from jobs.release.evidence import pulls_for_sha
from jobs.release.github import evaluate
from jobs.release.history import BAD_STATES, GOOD_STATES, DeploymentRecord, rollback_target
from jobs.release.store import GatedDeployment, GateStore, PendingGate

DEPLOYING_WORKFLOW = "github-actions[bot]"  # who GitHub Actions posts deployment statuses as
_ROLLED_BACK = "shipcrew:rolled-back:{repo}:{deployment}"  # what the rollback said


def rollback(ctx: JobContext, store: GateStore, environment: str, failed_sha: str, *,
             by: str, reason: str) -> str:
    """Dispatch the last good version of `environment`; a sentence saying what happened."""
    target = rollback_target(store.history(), environment, failed_sha)
    entry: dict[str, Any] = {"repo": ctx.repo, "environment": environment, "by": by,
                             "reason": reason, "failed_sha": failed_sha}
    if target is None:
        ctx.audit.record("rollback", **entry, outcome="no_good_version")
        return (f"No rollback of `{environment}`: no earlier version was deployed there "
                "successfully (deployment history is empty or only holds this version).")
    # The recorded ref names a branch the workflow file exists on; a tag or SHA cannot be
    # dispatched, so fall back to the default branch. The run deploys the head of the branch
    # it is dispatched on (that is the commit its gate judges): one that points at the target.
    ref = target.ref if target.ref and not _looks_like_sha(target.ref) else ctx.default_branch
    ref = branch_at(ctx, ref.removeprefix("refs/heads/"), target.sha, environment)
    result = dispatch(ctx, ref, environment, target.sha)
    ctx.audit.record("rollback", **entry, target_sha=target.sha, ref=ref,
                     workflow=result.workflow, outcome="dispatched" if result.ok else "refused",
                     message=result.message)
    if not result.ok:
        return f"Rollback of `{environment}` to `{target.sha[:7]}` failed: {result.message}."
    return (f"Rolling `{environment}` back to `{target.sha[:7]}` (last good, deployed "
            f"{target.at:%Y-%m-%d %H:%M %Z}): {result.message}.")


def _looks_like_sha(ref: str) -> bool:
    return len(ref) == 40 and all(c in "0123456789abcdef" for c in ref.lower())


def on_deployment_status(
    *, installation_id: int, repo: str, delivery_id: str, deployment_id: int, environment: str,
    sha: str, ref: str, state: str, creator: str, workflow_run_id: int | None = None,
    conn: redis.Redis | None = None, factory: ClientFactory | None = None,
) -> dict[str, Any]:
    """Record the outcome; on success re-open gates waiting on it, on failure roll back."""
    with bound_delivery(delivery_id):
        if state not in GOOD_STATES | BAD_STATES:
            return {"status": "ignored", "state": state}
        ctx = job_context(installation_id, repo, delivery_id, conn, factory)
        status = Status(deployment_id=deployment_id, environment=environment, sha=sha, ref=ref,
                        state=state, creator=creator, workflow_run_id=workflow_run_id)
        return _follow(ctx, GateStore(ctx.conn, repo), status)


class Status(BaseModel):
    """One `deployment_status` event, as the orchestrator reads it."""

    deployment_id: int
    environment: str
    sha: str
    ref: str
    state: str
    creator: str  # who posted the status (`deployment_status.creator`)
    workflow_run_id: int | None = None  # the run the deployment belongs to, when GitHub says


def untrusted(status: Status, gated: GatedDeployment | None) -> str | None:
    """Why this status is not evidence of a deployment, or None when it is: it must be of a
    deployment our gate approved (same run, environment and commit), posted by the workflow
    that deploys it. Anyone with write access can post statuses on any deployment."""
    if gated is None:
        return "not a deployment our gate approved"
    if gated.sha != status.sha or gated.environment.lower() != status.environment.lower():
        return f"our gate approved {gated.sha[:7]} for {gated.environment}, not this"
    if status.workflow_run_id is not None and status.workflow_run_id != gated.run_id:
        return f"from run {status.workflow_run_id}, our gate approved run {gated.run_id}"
    if status.creator.lower() != DEPLOYING_WORKFLOW:
        return f"posted by @{status.creator}, not by the deploying workflow"
    return None


def _follow(ctx: JobContext, store: GateStore, status: Status) -> dict[str, Any]:
    repo = ctx.repo
    deployment_id, environment, sha, state = (status.deployment_id, status.environment,
                                              status.sha, status.state)
    decision = store.last_decision(environment, sha)
    if state in BAD_STATES and decision is not None and decision.state == "rejected":
        # GitHub marks a deployment we rejected as failed: nothing was deployed, so there
        # is nothing to roll back and the version's record there stays as it was.
        ctx.audit.record("deployment", repo=repo, environment=environment, sha=sha,
                         state=state, deployment_id=deployment_id, outcome="rejected_by_gate")
        return {"status": "rejected_by_gate"}
    problem = untrusted(status, store.gated(deployment_id))
    if problem is not None:
        ctx.audit.record("deployment_status_ignored", repo=repo, environment=environment,
                         sha=sha, state=state, deployment_id=deployment_id, by=status.creator,
                         reason=problem)
        return {"status": "untrusted", "reason": problem}
    creator, ref = status.creator, status.ref
    store.add_deployment(DeploymentRecord(
        environment=environment, sha=sha, ref=ref, state=state, at=gate_store.clock(),
        by=creator, deployment_id=deployment_id))
    ctx.audit.record("deployment", repo=repo, environment=environment, sha=sha, state=state,
                     deployment_id=deployment_id, by=creator)
    if state in GOOD_STATES:
        # Gates waiting on this one as a predecessor; this environment's own other runs of
        # the same commit learn nothing from it.
        decided = [evaluate(ctx, store, g, trigger=f"{environment} deployed")
                   for g in store.gates(sha=sha) if g.environment.lower() != environment.lower()]
        refresh_packets(ctx, store, environment, sha, ref)
        return {"status": "recorded", "reevaluated": len(decided)}
    job = get_current_job()
    if not store.once("rollback", deployment_id, holder=job.id if job is not None else None):
        return {"status": "duplicate"}
    text = _rollback_once(ctx, store, status)
    body = (f"⚠️ Deployment of `{sha[:7]}` to `{environment}` reported **{state}**.\n\n"
            f"{text}")
    for pr in pulls_for_sha(ctx, sha, []):
        # marked per deployment and PR: a retry of this job finds what it already posted
        marker = f"<!-- shipcrew:rollback {deployment_id} #{pr.number} -->"
        comments.post_once(ctx, pr.number, marker, f"{body}\n\n{marker}")
    refresh_packets(ctx, store, environment, sha, ref)
    return {"status": "rolled_back", "message": text}


def _rollback_once(ctx: JobContext, store: GateStore, status: Status) -> str:
    """`rollback` once per failed deployment: a retry of the job (its worker died after the
    dispatch) reports what the first attempt did instead of dispatching again."""
    key = _ROLLED_BACK.format(repo=ctx.repo.lower(), deployment=status.deployment_id)
    if (said := store.conn.get(key)) is not None:
        return said.decode() if isinstance(said, bytes) else str(said)
    text = rollback(ctx, store, status.environment, status.sha, by="shipcrew",
                    reason=f"deployment {status.deployment_id} reported {status.state}")
    store.conn.set(key, text, ex=gate_store.RECORD_TTL)
    return text


def refresh_packets(ctx: JobContext, store: GateStore, environment: str, sha: str,
                    ref: str) -> None:
    """The release packets of the PRs behind `sha` show how its deployment went."""
    from jobs.release.github import gather, update_packets

    config, me = ctx.config, own_identity()
    if not isinstance(config, RepoConfig) or me is None:
        return
    gate = PendingGate(installation_id=ctx.installation_id, repo=ctx.repo, run_id=0,
                       environment=environment, sha=sha, ref=ref, created_at=gate_store.clock())
    update_packets(ctx, store, gather(ctx, store, gate, config, me), config)
