"""Worker processes: RQ workers listening to the queues in urgency order.

A worker outlives Redis restarts (it reconnects instead of exiting) and runs the maintenance
thread (app.maintenance): liveness, and when elected, scheduling, reaping and recovery.
"""

from __future__ import annotations

import dis
import gc
import importlib
import logging
import os
import socket
import sys
import time
from collections.abc import Callable
from typing import Any

import redis
from rq import Queue, SimpleWorker, Worker
from rq.executions import Execution
from rq.worker.base import BaseWorker, WorkerStatus

from app.main import redis_from_url
from app.maintenance import Maintenance, mark_alive
from app.queue import QUEUE_ORDER, FairQueue, queues

log = logging.getLogger(__name__)
# Measured with bench/worker.py (see README): a fork per job costs more than the jobs' own
# work for short jobs, so the default is the non-forking worker. --fork isolates each job.
DEFAULT_FORK = False
RECONNECT_WAIT = 1.0
# What the job entry points import lazily. A forking worker imports them once before it forks,
# so every work horse starts with them (pages shared copy-on-write) instead of importing them
# again for each job; bench/worker.py measures both.
PRELOAD = ("jobs.planner", "jobs.command_runner", "jobs.pipeline.github", "jobs.auditor.github",
           "jobs.auditor.push", "jobs.release.github", "jobs.release.rollback",
           "jobs.release.reviews", "jobs.release.heads", "app.recovery", "app.sweep")


# The GitHub calls of a PR's jobs whose models githubkit imports (and pydantic builds) only on
# their first call: ~100 ms of CPU in the first job of a worker, when a burst is the worst time.
WARM_REST = ("checks.create", "checks.update", "checks.get", "checks.list_for_ref", "pulls.get",
             "pulls.list", "pulls.list_files", "repos.get", "repos.get_content",
             "repos.get_commit", "repos.compare_commits", "git.get_commit", "git.get_ref",
             "git.create_ref", "git.update_ref", "git.get_tree", "git.create_tree",
             "git.create_commit", "issues.create_comment", "issues.update_comment")


def preload() -> None:
    for name in PRELOAD:
        importlib.import_module(name)
    gc.freeze()  # the horses' collector never walks (and so never copies) these objects


def _function_imports(func: Any) -> None:
    """Run the `from X import (names)` statements in `func`'s body, without calling it."""
    module = sys.modules[func.__module__]
    ops = list(dis.get_instructions(func))
    for i, op in enumerate(ops):
        if op.opname != "IMPORT_NAME" or i < 2:
            continue
        level, names = ops[i - 2].argval, ops[i - 1].argval
        if not isinstance(level, int) or not isinstance(names, tuple):
            continue
        target = importlib.import_module("." * level + op.argval if level else op.argval,
                                         module.__package__)
        for name in names:
            getattr(target, name)


def warm() -> None:
    """What a long-lived worker does before its first job: import the job modules and the
    GitHub models of the installation token and of `WARM_REST`, read the settings, build the
    TLS context, so that no first job (the first looks of a burst, jobs.first_look) pays for
    them. Best effort: a name githubkit no longer has is skipped."""
    from githubkit import GitHub
    from githubkit.auth.app import AppAuth

    from app.github import shared_ssl_context
    from app.settings import get_settings

    preload()
    get_settings()  # as a job's first client reads them (~10 ms)
    shared_ssl_context()  # ~25 ms: the CA bundle
    gh = GitHub()  # referenced while its `rest` is used (githubkit holds it weakly)
    calls: list[Any] = [AppAuth._build_installation_auth_request,
                        AppAuth._parse_installation_auth_response]
    calls += [dotted.split(".") for dotted in WARM_REST]
    for call in calls:
        try:
            func = getattr(getattr(gh.rest, call[0]), call[1]) if isinstance(call, list) \
                else call
            _function_imports(func)
        except (AttributeError, ImportError, TypeError, RuntimeError) as exc:
            log.debug("could not warm %s: %s", call, exc)


class _MarksStartedThenReleases(BaseWorker):
    """`FairQueue` parks a dequeued job in its queue's intermediate list; RQ takes it out
    there only for single-queue workers, ours listen to several: always, in the same Redis
    step that marks the job started. That step is the one that records the job's execution
    in the started registry (RQ marks it started only later, in the work horse): a job in the
    registry is then one the reaper can hand back, never one still `queued` there that
    neither the reaper nor the intermediate list would find again."""

    def prepare_execution(self, job: Any) -> Execution:
        with self.connection.pipeline() as pipe:
            execution = Execution.create(job, self.get_heartbeat_ttl(job), pipeline=pipe,
                                         worker_name=self.name)
            self.executions[execution.id] = execution
            self.set_state(WorkerStatus.BUSY, pipeline=pipe)
            job.prepare_for_execution(self.name, pipeline=pipe)
            pipe.lrem(f"{Queue.redis_queue_namespace_prefix}{job.origin}:intermediate", 1,
                      job.id)
            pipe.execute()
        return execution

    def prepare_job_execution(self, job: Any, remove_from_intermediate_queue: bool = False
                              ) -> None:
        super().prepare_job_execution(job, remove_from_intermediate_queue=True)


class ReliableWorker(_MarksStartedThenReleases, Worker):
    pass


class ReliableSimpleWorker(_MarksStartedThenReleases, SimpleWorker):
    pass


def _periodic(interval: float | None) -> Callable[[redis.Redis, float], None]:
    """The leader's periodic jobs: missed-delivery recovery (every `interval` seconds, if set)
    and the sweep of check runs no job will complete (app.sweep)."""
    from app import recovery, sweep

    first = [True]

    def run(conn: redis.Redis, now: float) -> None:
        if interval:
            recovery.schedule(conn, now, interval, force=first[0])  # catch up on taking over
        sweep.schedule(conn, now)
        first[0] = False

    return run


def run_worker(redis_url: str, names: list[str] | None = None, *, burst: bool = False,
               fork: bool | None = None, recovery_interval: float | None = None) -> int:
    conn = redis_from_url(redis_url)
    selected = queues(conn) if not names else [
        q for q in queues(conn) if q.name in names or q.name.removeprefix("shipcrew-") in names
    ]
    if not selected:
        known = ", ".join(q.value for q in QUEUE_ORDER)
        raise SystemExit(f"shipcrew worker: no such queue in {names}; known: {known}")
    cls: type[Any] = (ReliableWorker if (DEFAULT_FORK if fork is None else fork)
                         else ReliableSimpleWorker)
    if cls is ReliableWorker:
        preload()
    me = f"{socket.gethostname()}:{os.getpid()}"
    periodic = _periodic(recovery_interval)
    maintenance = Maintenance(lambda: redis_from_url(redis_url), me, periodic)
    if burst:
        from app.maintenance import enqueue_due

        enqueue_due(conn, time.time())
    else:
        maintenance.start()
    try:
        if cls is ReliableSimpleWorker and not burst:
            warm()  # once maintenance runs: liveness and leadership come as early as before
        worker = None
        while True:
            try:
                worker = cls(selected, connection=conn, queue_class=FairQueue)
                maintenance.names = {worker.name}
                mark_alive(conn, maintenance.names)
                # RQ's own scheduler is replaced by the leader's (app.maintenance).
                worker.work(burst=burst, with_scheduler=False, logging_level="WARNING")
                return 0
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if getattr(worker, "_stop_requested", False):
                    return 0
                log.warning("redis unavailable (%s); reconnecting", exc)
                time.sleep(RECONNECT_WAIT)
    finally:
        if not burst:  # started above only then
            maintenance.stop()
