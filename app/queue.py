"""RQ queues by urgency, enqueue with delivery-derived ids, retries, failure records."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import httpx
import redis
from rq import Callback, Queue, Retry
from rq.job import Job

log = logging.getLogger(__name__)


class Urgency(StrEnum):
    """Commands and deployment gates are answered before generation work."""

    URGENT = "shipcrew-urgent"
    DEFAULT = "shipcrew-default"
    LOW = "shipcrew-low"


QUEUE_ORDER = [Urgency.URGENT, Urgency.DEFAULT, Urgency.LOW]
RETRY = Retry(max=3, interval=[5, 30, 120])
JOB_TIMEOUT = 600
RESULT_TTL = 24 * 3600
FAILURE_TTL = 7 * 24 * 3600


@dataclass(frozen=True)
class JobSpec:
    """One unit of planned work: a module-level job function and its plain arguments."""

    name: str  # stable per handler: the job id is derived from the delivery id and this
    func: str  # dotted path, so the web process never imports job modules
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    urgency: Urgency = Urgency.DEFAULT
    timeout: int = JOB_TIMEOUT


def queues(conn: redis.Redis) -> list[Queue]:
    return [Queue(q.value, connection=conn) for q in QUEUE_ORDER]


def job_id_for(delivery_id: str, name: str) -> str:
    """Deterministic, so a redelivered webhook maps onto the job it already made."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{delivery_id}--{name}")


def enqueue(conn: redis.Redis, delivery_id: str, spec: JobSpec, pipeline: Any = None) -> str:
    job_id = job_id_for(delivery_id, spec.name)
    Queue(spec.urgency.value, connection=conn).enqueue_call(
        spec.func,
        kwargs=dict(spec.kwargs),
        job_id=job_id,
        timeout=spec.timeout,
        retry=RETRY,
        result_ttl=RESULT_TTL,
        failure_ttl=FAILURE_TTL,
        on_success=Callback(on_job_success),
        on_failure=Callback(on_job_failure),
        pipeline=pipeline,
    )
    return job_id


def is_transient(exc: BaseException | None) -> bool:
    """Worth retrying: the network, Redis, GitHub's 5xx and rate limits."""
    from githubkit.exception import RateLimitExceeded, RequestFailed

    if isinstance(exc, RateLimitExceeded | redis.ConnectionError | redis.TimeoutError):
        return True
    if isinstance(exc, httpx.TransportError | TimeoutError | ConnectionError):
        return True
    if isinstance(exc, RequestFailed):
        return exc.response.status_code >= 500 or exc.response.status_code == 429
    return False


def _duration(job: Job) -> float:
    return max(0.0, time.time() - job.started_at.timestamp()) if job.started_at else 0.0


def on_job_success(job: Job, connection: redis.Redis, result: Any, *args: Any) -> None:
    from app.metrics import record_job

    record_job(connection, job.func_name, "succeeded", _duration(job))


def _close_orphan_check(job: Job, error: str) -> None:
    from app.checks import close_orphan
    from app.github import client_for

    try:
        close_orphan(client_for, job, error)
    except Exception as exc:  # noqa: BLE001 - a callback must never take the worker down
        log.warning("could not close the check run of job %s: %s", job.id, exc)


def on_job_failure(
    job: Job, connection: redis.Redis, typ: Any, value: BaseException | None, tb: Any
) -> None:
    """Record every failure; stop retries for errors that will not heal by waiting."""
    from app.audit import AuditTrail
    from app.metrics import record_job

    if not is_transient(value):
        job.retries_left = 0
    final = not job.should_retry
    record_job(connection, job.func_name, "failed" if final else "retried", _duration(job))
    error = f"{type(value).__name__}: {value}"[:2000]
    if final:
        _close_orphan_check(job, error)
    AuditTrail(connection).record(
        "job_failed",
        job=job.id,
        func=job.func_name,
        error=error,
        final=final,
        repo=job.kwargs.get("repo"),
    )
    log.warning("job %s failed (%s): %s", job.id, "final" if final else "will retry", value)
