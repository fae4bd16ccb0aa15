"""The sweep: check runs of ours left `queued` or `in_progress` that no job will complete.

Every run a PR's job opens for itself (`checks.start`) or for the job it enqueues next
(`checks.open_queued`) is noted in an index (`checks.OPEN_INDEX`) with the job that awaits it.
The jobs complete their runs, and a job out of retries completes its run as a dead letter;
should any path still leave one open - the job lost, ended without completing it, a dead
letter that could not reach GitHub - the leader's periodic `sweep_checks` job completes it:
`skipped` when the PR's head has moved on, else `failure` saying what happened (with the
Retry button when the job failed, which Retry can run again). A run is looked at only once
its job, the job that opened it and those of its delivery that enqueue others (the plan,
the pipeline engineer that enqueues the audit) have all ended, or are gone, for SETTLE
seconds, and one sweep makes at most MAX_CALLS GitHub calls.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any

import redis
from githubkit import GitHub
from rq.job import Job, JobStatus

from app import checks, metrics
from app.queue import JobSpec, Urgency, is_transient, job_id_for

log = logging.getLogger(__name__)
INTERVAL = 60.0
SETTLE = 30.0  # a job that ended this recently may still be completing its run
BATCH = 100  # index entries looked at per sweep (Redis only)
MAX_CALLS = 30  # GitHub calls per sweep: 3 per run at most (get, the PR, update)
_JOB = "shipcrew:sweep:job"
_NEXT = "shipcrew:sweep:next"
_BEFORE = ("plan", "generate")  # the jobs of a delivery that enqueue others (jobs.planner)
_WAITING = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)


def _state(conn: redis.Redis, job_id: str, now: float) -> JobStatus | None:
    """The job's status; None when it is gone; QUEUED while it ended within SETTLE."""
    job = Job.fetch_many([job_id], connection=conn)[0]
    if job is None:
        return None
    status = job.get_status(refresh=False)
    if job.ended_at is not None and now - job.ended_at.timestamp() < SETTLE:
        return JobStatus.QUEUED
    return status


def _awaited(conn: redis.Redis, entry: dict[str, Any], now: float) -> tuple[bool, Any]:
    """(whether a job may still complete the run, the awaited job's status)."""
    status = _state(conn, entry["job"], now)
    if status in _WAITING:
        return True, status
    if status is None:  # not enqueued yet? a job before it is still to end
        delivery = str(entry["job"]).rpartition("--")[0]
        before = {entry.get("by"), *(job_id_for(delivery, step) for step in _BEFORE)}
        before -= {None, entry["job"]}
        if any(_state(conn, str(j), now) in _WAITING for j in before):
            return True, status
    return False, status


def _close(gh: GitHub[Any], entry: dict[str, Any], run_id: int, status: JobStatus | None
           ) -> bool:
    """Complete the run unless it is complete (3 GitHub calls at most); whether it was open."""
    owner, name = str(entry["repo"]).split("/", 1)
    run: Any = gh.rest.checks.get(owner, name, run_id).json()
    if run.get("status") == "completed":
        return False
    head = None
    if isinstance(entry.get("number"), int):
        pull: Any = gh.rest.pulls.get(owner, name, entry["number"]).json()
        head = pull.get("head", {}).get("sha")
    job_id = entry["job"]
    what = (f"its job `{job_id}` ended `{status.value}`" if status is not None
            else f"its job `{job_id}` never ran or is gone")
    data: dict[str, Any] = {"status": "completed"}
    if head is not None and head != run.get("head_sha"):
        data.update(conclusion="skipped", output={
            "title": "Skipped: superseded", "summary": checks.fit(
                f"A newer commit ({head[:7]}) has its own run; this one was left open "
                f"({what} without completing it).")})
    else:
        retry = status == JobStatus.FAILED
        data.update(conclusion="failure", output={
            "title": "shipcrew errored", "summary": checks.fit(
                f"This run was left {run.get('status')}: {what} without completing it, and "
                "nothing more was changed. "
                + ("Press **Retry** or comment `/crew retry` to run it again." if retry
                   else "Push a new commit to run the crew again."))})
        if retry:
            data["actions"] = [checks.RETRY.body()]
    gh.rest.checks.update(owner, name, run_id, data=data)  # type: ignore[call-overload]
    return True


def sweep(conn: redis.Redis, now: float,
          gh_for: Callable[[int], GitHub[Any]] | None = None) -> int:
    """Complete the open runs no job will complete; returns how many."""
    from app.github import client_for

    factory = gh_for or client_for
    calls = closed = 0
    entries: list[bytes] = conn.zrangebyscore(checks.OPEN_INDEX, "-inf", now - SETTLE,  # type: ignore[assignment]
                                              start=0, num=BATCH)
    for raw in entries:
        if calls + 3 > MAX_CALLS:
            break
        entry = json.loads(raw)
        waiting, status = _awaited(conn, entry, now)
        if waiting:
            conn.zadd(checks.OPEN_INDEX, {raw: now}, xx=True)  # look again later
            continue
        run_id = checks.opened_for_job(entry["job"], conn)
        if run_id is not None:
            calls += 3
            try:
                was_open = _close(factory(int(entry["installation"])), entry, run_id, status)
            except Exception as exc:
                if is_transient(exc):
                    raise  # the job's retry sweeps again
                log.warning("could not complete check run %s: %s", run_id, exc)
                was_open = False
            closed += was_open
            checks.forget_opened(conn, entry["job"])
        conn.zrem(checks.OPEN_INDEX, raw)
    if closed:
        metrics.count(conn, "swept", n=closed)
        log.warning("completed %d check run(s) no job would complete", closed)
    return closed


def sweep_checks() -> dict[str, Any]:
    """The RQ job."""
    from app.context import current_redis

    return {"completed": sweep(current_redis(), time.time())}


def schedule(conn: redis.Redis, now: float, *, force: bool = False) -> bool:
    from app.maintenance import schedule_job

    spec = JobSpec("sweep-checks", "app.sweep.sweep_checks", {}, Urgency.URGENT, timeout=120)
    return schedule_job(conn, now, INTERVAL, spec, _JOB, _NEXT, force=force)
