"""The one place that wires events to the jobs that handle them."""

from __future__ import annotations

import re
from typing import Any

from app.command_parser import is_actionable
from app.events import Event
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


@router.register("pull_request", "opened", "reopened", "synchronize", "ready_for_review")
def on_pull_request(event: Event, delivery: Delivery) -> list[JobSpec]:
    kwargs = _open_pull(event, delivery)
    return [JobSpec("plan", "jobs.planner.plan_pull_request", kwargs)] if kwargs else []


@router.register("pull_request", "synchronize", only_us=True)
def on_own_push(event: Event, delivery: Delivery) -> list[JobSpec]:
    """Our own commit (generated files, fixes) is audited, never regenerated: no loops."""
    kwargs = _open_pull(event, delivery)
    return [JobSpec("audit", "jobs.auditor.audit_pull_request", kwargs)] if kwargs else []


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
              "body": comment.body or "", "author": comment.user.login}
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
              "run_id": int(match.group(1)), "pull_numbers": numbers}
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
              "creator": creator}
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
