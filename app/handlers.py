"""The one place that wires events to the jobs that handle them."""

from __future__ import annotations

import re
from typing import Any

from app.command_parser import is_actionable
from app.events import Event
from app.handoff import hook_pull
from app.queue import JobSpec, Urgency
from app.routing import Router
from app.webhooks import Delivery

router = Router()


def _base(event: Event, delivery: Delivery) -> dict[str, Any] | None:
    """What every job needs; None when the event cannot be acted on (no installation/repo)."""
    if event.installation is None or event.repository is None:
        return None
    return {
        "installation_id": event.installation.id,
        "repo": event.repository.full_name,
        "delivery_id": delivery.id,
    }


def _open_pull(event: Event, delivery: Delivery) -> dict[str, Any] | None:
    """Job arguments for an open PR's head, or None."""
    base, pr = _base(event, delivery), event.pull_request
    if base is None or pr is None or pr.state != "open":
        return None
    return {**base, "number": pr.number, "head_sha": pr.head.sha}


NEW_HEAD = frozenset({"opened", "reopened", "synchronize"})


def _pusher(event: Event) -> dict[str, str] | None:
    """Who made the head and when: approvals and separation of duties bind to webhook
    senders and GitHub's timestamps, never to commit metadata (jobs.release.record_push)."""
    pr, sender = event.pull_request, event.sender
    at = (pr.updated_at or pr.created_at) if pr is not None else None
    return {"by": sender.login, "at": at} if sender is not None and at else None


@router.register("pull_request", "opened", "reopened", "synchronize", "ready_for_review")
def on_pull_request(event: Event, delivery: Delivery) -> list[JobSpec]:
    """A new head: one cheap urgent job records who pushed it, opens its check runs and
    then enqueues the plan (jobs.planner.open_checks). Other actions are planned directly."""
    kwargs, pr = _open_pull(event, delivery), event.pull_request
    if kwargs is None or pr is None:
        return []
    # The PR for the plan, so it need not read it (app.handoff). Its name sorts before
    # `installation_id` in the job's description, which app.queue's fair share scans (the
    # last `installation_id=` wins there: the PR's branch name is the sender's to choose).
    kwargs["hook_pull"] = hook_pull(pr)
    if delivery.action not in NEW_HEAD:
        return [JobSpec("plan", "jobs.planner.plan_pull_request", kwargs)]
    extra: dict[str, Any] = {"fork": pr.is_fork}
    if (pushed := _pusher(event)) is not None:
        extra["pushed"] = pushed
    return [JobSpec("open-checks", "jobs.planner.open_checks", {**kwargs, **extra},
                    Urgency.URGENT)]


@router.register("pull_request", "closed", humans_only=False)
def on_closed(event: Event, delivery: Delivery) -> list[JobSpec]:
    """Recorded, so a plan holding the webhook's PR from before does no work (app.handoff)."""
    base, pr = _base(event, delivery), event.pull_request
    if base is None or pr is None:
        return []
    return [JobSpec("closed", "jobs.planner.pull_closed",
                    {**base, "number": pr.number, "at": pr.updated_at}, Urgency.URGENT)]


@router.register("pull_request", "synchronize", only_us=True)
def on_own_push(event: Event, delivery: Delivery) -> list[JobSpec]:
    """Our own commit (generated files, fixes) is audited, never regenerated: no loops."""
    kwargs = _open_pull(event, delivery)
    return [JobSpec("audit", "jobs.auditor.audit_pull_request", kwargs)] if kwargs else []


@router.register("pull_request", "synchronize", only_us=True)
def on_own_head(event: Event, delivery: Delivery) -> list[JobSpec]:
    """Our bot's pushes are recorded too (a human's, by `open_checks`)."""
    kwargs, pushed = _open_pull(event, delivery), _pusher(event)
    if kwargs is None or pushed is None:
        return []
    return [JobSpec("push", "jobs.release.record_push", {**kwargs, **pushed}, Urgency.URGENT)]


# --- the auditor's check run: buttons and re-runs (issue 5) -----------------------------------

OUR_CHECKS = "shipcrew / "
RETRY_ACTION = "retry"  # GitHub sends these events only to the App that owns the run


@router.register("check_run", "requested_action")
def on_check_run_action(event: Event, delivery: Delivery) -> list[JobSpec]:
    base, run, action = _base(event, delivery), event.check_run, event.requested_action
    if base is None or run is None or action is None or event.sender is None:
        return []
    if not run.name.startswith(OUR_CHECKS):
        return []
    kwargs = {**base, "check_run_id": run.id, "head_sha": run.head_sha,
              "identifier": action.identifier, "requester": event.sender.login}
    if action.identifier == RETRY_ACTION:  # a dead letter's button (app.checks.close_orphan)
        return [JobSpec("retry", "jobs.command_runner.retry_from_check_run", kwargs,
                        Urgency.URGENT)]
    return [JobSpec("check-action", "jobs.auditor.on_check_run_action", kwargs, Urgency.URGENT)]


@router.register("check_run", "rerequested")
@router.register("check_suite", "rerequested")
def on_rerequested(event: Event, delivery: Delivery) -> list[JobSpec]:
    base, run = _base(event, delivery), event.check_run
    suite = delivery.payload.get("check_suite")
    if run is not None and not run.name.startswith(OUR_CHECKS):
        return []
    head_sha = run.head_sha if run is not None else (
        suite.get("head_sha") if isinstance(suite, dict) else None)
    if base is None or not isinstance(head_sha, str) or not head_sha:
        return []
    return [JobSpec("rerun", "jobs.auditor.rerun", {**base, "head_sha": head_sha},
                    Urgency.DEFAULT)]


# --- comment commands, release manager, deployment orchestrator (issue 6) -------------------

_RUN_ID = re.compile(r"/actions/runs/(\d+)/deployment_protection_rule/?$")


def _login(data: Any) -> str:
    return str(data.get("login") or "") if isinstance(data, dict) else ""


@router.register("issue_comment", "created")
def on_issue_comment(event: Event, delivery: Delivery) -> list[JobSpec]:
    base, issue, comment = _base(event, delivery), event.issue, event.comment
    if base is None or issue is None or comment is None or issue.pull_request is None:
        return []
    sender = event.sender or comment.user
    if not is_actionable(delivery.action or "", sender.type or "", sender.login, ""):
        return []
    kwargs = {**base, "number": issue.number, "comment_id": comment.id,
              "body": comment.body or "", "author": comment.user.login,
              "created_at": comment.created_at}
    return [JobSpec("command", "jobs.command_runner.handle_comment", kwargs, Urgency.URGENT)]


@router.register("deployment_protection_rule", "requested")
def on_deployment_protection_rule(event: Event, delivery: Delivery) -> list[JobSpec]:
    base = _base(event, delivery)
    match = _RUN_ID.search(event.deployment_callback_url or "")
    env = event.environment
    if base is None or match is None or not isinstance(env, str) or not event.sha:
        return []
    pulls = delivery.payload.get("pull_requests") or []
    numbers = [p["number"] for p in pulls if isinstance(p, dict) and isinstance(
        p.get("number"), int)]
    kwargs = {**base, "environment": env, "sha": event.sha, "ref": event.ref or "",
              "run_id": int(match.group(1)), "pull_numbers": numbers,
              "deployment_id": event.deployment.id if event.deployment else None}
    return [JobSpec("gate", "jobs.release.on_protection_rule", kwargs, Urgency.URGENT)]


@router.register("deployment_status", "created")
def on_deployment_status(event: Event, delivery: Delivery) -> list[JobSpec]:
    base, deployment, status = _base(event, delivery), event.deployment, event.deployment_status
    if base is None or deployment is None or status is None:
        return []
    creator = _login((delivery.payload.get("deployment_status") or {}).get("creator")) or (
        deployment.creator.login if deployment.creator else "")
    kwargs = {**base, "deployment_id": deployment.id,
              "environment": status.environment or deployment.environment,
              "sha": deployment.sha, "ref": deployment.ref, "state": status.state,
              "creator": creator, "workflow_run_id": event.workflow_run.id
              if event.workflow_run else None}
    return [JobSpec("deployment", "jobs.release.on_deployment_status", kwargs, Urgency.URGENT)]


# Not humans_only: our own `shipcrew / policy` check run, and CI runs our commits triggered,
# are evidence a pending gate waits on. Re-evaluating writes no check runs, so no loop.
@router.register("check_run", "completed", humans_only=False)
@router.register("workflow_run", "completed", humans_only=False)
def on_run_completed(event: Event, delivery: Delivery) -> list[JobSpec]:
    base = _base(event, delivery)
    run = event.check_run or event.workflow_run
    if base is None or run is None:
        return []
    kwargs = {**base, "sha": run.head_sha}
    return [JobSpec("reevaluate", "jobs.release.reevaluate", kwargs, Urgency.URGENT)]


# --- the trunk flow and GitHub's own reviewers (issue 12) -------------------------------------

_ZERO = "0" * 40


@router.register("push")
def on_push(event: Event, delivery: Delivery) -> list[JobSpec]:
    """A branch moved: the auditor judges its new head if the branch is one that deploys."""
    base, data = _base(event, delivery), delivery.payload
    ref, before, after = data.get("ref"), data.get("before"), data.get("after")
    if base is None or not isinstance(ref, str) or not ref.startswith("refs/heads/"):
        return []
    if data.get("deleted") or not isinstance(after, str) or after in ("", _ZERO):
        return []
    kwargs = {**base, "ref": ref, "before": before if isinstance(before, str) else "",
              "after": after, "pusher": event.sender.login if event.sender else ""}
    return [JobSpec("audit-push", "jobs.auditor.audit_push", kwargs)]


@router.register("deployment_review", "approved", "rejected")
def on_deployment_review(event: Event, delivery: Delivery) -> list[JobSpec]:
    """Someone answered GitHub's "Review deployments" dialog: judge that run's gates again."""
    base, data = _base(event, delivery), delivery.payload
    run = data.get("workflow_run") if isinstance(data.get("workflow_run"), dict) else {}
    jobs = [j for j in data.get("workflow_job_runs") or [] if isinstance(j, dict)]
    envs = sorted({str(j["environment"]) for j in jobs if isinstance(j.get("environment"), str)})
    run_id = run.get("id") if run else None
    if base is None or not isinstance(run_id, int) or not envs:
        return []
    kwargs = {**base, "run_id": run_id, "environments": envs, "state": delivery.action or "",
              "reviewer": _login(data.get("approver")) or _login(data.get("sender"))}
    return [JobSpec("review", "jobs.release.on_deployment_review", kwargs, Urgency.URGENT)]
