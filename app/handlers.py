"""The one place that wires events to the jobs that handle them."""

from __future__ import annotations

from typing import Any

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


@router.register("pull_request", "opened", "reopened", "synchronize", "ready_for_review")
def on_pull_request(event: Event, delivery: Delivery) -> list[JobSpec]:
    base, pr = _base(event, delivery), event.pull_request
    if base is None or pr is None or pr.state != "open":
        return []
    kwargs = {**base, "number": pr.number, "head_sha": pr.head.sha}
    return [JobSpec("plan", "jobs.planner.plan_pull_request", kwargs, Urgency.DEFAULT)]


@router.register("pull_request", "synchronize", only_us=True)
def on_own_push(event: Event, delivery: Delivery) -> list[JobSpec]:
    """Our own commit (generated files, fixes) is audited, never regenerated: no loops."""
    base, pr = _base(event, delivery), event.pull_request
    if base is None or pr is None or pr.state != "open":
        return []
    kwargs = {**base, "number": pr.number, "head_sha": pr.head.sha}
    return [JobSpec("audit", "jobs.auditor.audit_pull_request", kwargs, Urgency.DEFAULT)]
