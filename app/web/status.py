"""What the crew is doing, read from Redis: the data behind the status page.

Deliveries by event and outcome (the metrics hash), queue depths and failed jobs (RQ's
registries and the audit trail), pending deployment gates per repository and environment with
what each waits for (the release store), and recent decisions with their reasons (the audit
trail). Reads only; `requeue` is the page's one action.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.registry import FailedJobRegistry

from app.audit import STREAM, AuditTrail
from app.metrics import DELIVERIES
from app.queue import QUEUE_ORDER

DECISION_KINDS = {"plan", "generate", "generate_error", "verdict", "gate_decision", "approval",
                  "waiver", "rollback", "authorization", "apply_fixes", "requeue"}
MAX_GATES = 200
AUDIT_WINDOW = 2000  # entries read per page view: failed-job errors, gate reasons, decisions


@dataclass
class Status:
    deliveries: dict[str, dict[str, int]] = field(default_factory=dict)  # event -> outcome -> n
    outcomes: list[str] = field(default_factory=list)
    # name, waiting, running, failed
    queues: list[tuple[str, int, int, int]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    gates: list[dict[str, Any]] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def deliveries(conn: redis.Redis) -> tuple[dict[str, dict[str, int]], list[str]]:
    table: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    outcomes: set[str] = set()
    raw: dict[bytes, bytes] = conn.hgetall(DELIVERIES)  # type: ignore[assignment]
    for key, count in raw.items():
        event, action, outcome = _text(key).split("|")
        name = f"{event}.{action}" if action else event
        table[name][outcome] += int(count)
        outcomes.add(outcome)
    order = ["enqueued", "ignored", "duplicate", "invalid", "rejected"]
    return ({k: dict(v) for k, v in sorted(table.items())},
            sorted(outcomes, key=lambda o: (order.index(o) if o in order else 99, o)))


def queues(conn: redis.Redis) -> list[tuple[str, int, int, int]]:
    out = []
    for urgency in QUEUE_ORDER:
        q = Queue(urgency.value, connection=conn)
        out.append((q.name, q.count, q.started_job_registry.count, q.failed_job_registry.count))
    return out


def failed_jobs(conn: redis.Redis, audit: list[dict[str, Any]], limit: int = 20
                ) -> list[dict[str, Any]]:
    """Jobs in RQ's failed registries (failed for good), newest first, with their error."""
    errors = {e.get("job"): e for e in reversed(audit) if e.get("kind") == "job_failed"}
    out: list[dict[str, Any]] = []
    for urgency in QUEUE_ORDER:
        registry = FailedJobRegistry(urgency.value, connection=conn)
        for job_id in registry.get_job_ids(0, limit - 1):
            entry = errors.get(job_id, {})
            out.append({"job": job_id, "queue": urgency.value, "func": entry.get("func", "?"),
                        "repo": entry.get("repo"), "error": entry.get("error", "(no record)"),
                        "at": entry.get("at", 0)})
    return sorted(out, key=lambda e: -float(e["at"] or 0))[:limit]


def pending_gates(conn: redis.Redis, audit: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from jobs.release.store import GateStore

    latest: dict[tuple[Any, str], dict[str, Any]] = {}
    for entry in audit:  # newest first: keep the first seen
        if entry.get("kind") == "gate_decision":
            key = (entry.get("run_id"), str(entry.get("environment", "")).lower())
            latest.setdefault(key, entry)
    out: list[dict[str, Any]] = []
    for index in conn.scan_iter(match="shipcrew:gates:*", count=500):
        repo = _text(index).removeprefix("shipcrew:gates:")
        for gate in GateStore(conn, repo).gates():
            decision = latest.get((gate.run_id, gate.environment.lower()), {})
            out.append({"repo": gate.repo, "environment": gate.environment, "sha": gate.sha,
                        "run_id": gate.run_id, "pulls": gate.pull_numbers,
                        "since": gate.created_at, "waits_for": decision.get("reasons")
                        or [gate.last_report or "first evaluation"]})
            if len(out) >= MAX_GATES:
                return out
    return sorted(out, key=lambda g: (g["repo"].lower(), g["environment"].lower(), g["since"]))


def summary(entry: dict[str, Any]) -> str:
    """One line: what was decided and why."""
    kind = entry.get("kind")
    if kind == "gate_decision":
        return f"{entry.get('environment')}: {entry.get('state')} — " + "; ".join(
            entry.get("reasons") or [])
    if kind == "verdict":
        failures = entry.get("failures") or []
        return f"policy {entry.get('verdict')}" + (f": {', '.join(failures)}" if failures else "")
    if kind == "plan":
        return f"tier {entry.get('tier')}, {len(entry.get('jobs') or [])} jobs"
    if kind == "generate":
        return f"pipeline {entry.get('status')}" + (
            f": {', '.join(entry.get('files') or [])}" if entry.get("files") else "")
    if kind in {"approval", "waiver"}:
        return f"@{entry.get('who')} for {entry.get('environment') or entry.get('rule')}"
    return ", ".join(f"{k}={v}" for k, v in entry.items()
                     if k not in {"kind", "at", "repo", "number", "head_sha"})[:300]


def recent_audit(conn: redis.Redis, count: int = AUDIT_WINDOW) -> list[dict[str, Any]]:
    """The newest `count` audit entries, newest first (one bounded read per page view)."""
    rows: list[tuple[bytes, dict[bytes, bytes]]] = conn.xrevrange(  # type: ignore[assignment]
        STREAM, count=count)
    return [json.loads(data[b"entry"]) for _id, data in rows]


def gather(conn: redis.Redis, decisions: int = 25) -> Status:
    audit = recent_audit(conn)
    table, outcomes = deliveries(conn)
    recent = [e for e in audit if e.get("kind") in DECISION_KINDS][:decisions]
    return Status(deliveries=table, outcomes=outcomes, queues=queues(conn),
                  failed=failed_jobs(conn, audit), gates=pending_gates(conn, audit),
                  decisions=recent)


def requeue(conn: redis.Redis, job_id: str, who: str) -> str | None:
    """Run a failed job again (same job id, so the same delivery); None when it is not failed."""
    for urgency in QUEUE_ORDER:
        registry = FailedJobRegistry(urgency.value, connection=conn)
        if job_id in registry.get_job_ids():
            try:
                registry.requeue(job_id)
            except NoSuchJobError:
                return None
            AuditTrail(conn).record("requeue", job=job_id, who=who, queue=urgency.value)
            return urgency.value
    return None
