"""Dead letters: jobs out of retries. Each PR remembers its last one, so `/crew retry` and the
check run's Retry button can run it again (with a fresh set of retries)."""

from __future__ import annotations

import logging

import redis
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus

from app import metrics
from app.queue import FAILURE_TTL, RETRY

log = logging.getLogger(__name__)
_LAST = "shipcrew:dead:{repo}#{number}"


def record_dead(conn: redis.Redis, job: Job) -> None:
    repo, number = job.kwargs.get("repo"), job.kwargs.get("number")
    with conn.pipeline(transaction=False) as pipe:
        if repo and isinstance(number, int):
            pipe.set(_LAST.format(repo=repo, number=number), job.id, ex=FAILURE_TTL)
        metrics.count(pipe, "dead_letter", job.func_name or "")
        pipe.execute()


def last_dead(conn: redis.Redis, repo: str, number: int) -> str | None:
    raw = conn.get(_LAST.format(repo=repo, number=number))
    return raw.decode() if isinstance(raw, bytes) else raw


def retry_job(conn: redis.Redis, job_id: str, *, repo: str) -> Job | None:
    """Requeue a failed job of `repo` with its retries restored; None if it is not a failed
    job of that repository (gone, already retried, or someone else's)."""
    try:
        job = Job.fetch(job_id, connection=conn)
    except NoSuchJobError:
        return None
    if job.kwargs.get("repo") != repo or job.get_status() != JobStatus.FAILED:
        return None
    job.retries_left = RETRY.max
    job.retry_intervals = list(RETRY.intervals)
    job.save()
    try:
        job.requeue()
    except InvalidJobOperation:  # retried concurrently by another request
        return None
    number = job.kwargs.get("number")
    if isinstance(number, int) and last_dead(conn, repo, number) == job.id:
        conn.delete(_LAST.format(repo=repo, number=number))
    metrics.count(conn, "retry_requested", job.func_name or "")
    log.info("job %s requeued on request", job.id)
    return job
