"""An idle worker blocked waiting for work, SIGKILLed after it took a job and before it marked
the job started, loses nothing: the job waits in its queue's intermediate list and the reaper
puts it back. (RQ's multi-queue BLPOP, which the idle worker used to block in, hands the job
to the worker itself: killed in that window, the job was gone from every list while its
status still said `queued`.) The kill is real: the worker, as `shipcrew worker` runs it,
stops in `prepare_job_execution` until the test SIGKILLs it."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from typing import Any

import redis
from rq.job import Job, JobStatus

from app import worker
from app.maintenance import ALIVE, GRACE, enqueue_due, reap
from app.queue import RETRY, FairQueue, Urgency
from app.worker import ReliableSimpleWorker, run_worker
from tests.app.test_fair_queue import _job, _ran

TAKEN = "test:taken"
NAME = "idle-worker"


def _taken_then_stuck(url: str, where: str) -> None:
    """A worker that records the job it took and stops at `where` (a worker method) for good."""

    def stuck(self: Any, job: Job, *args: Any) -> None:
        self.connection.set(TAKEN, job.id)
        time.sleep(120)

    setattr(ReliableSimpleWorker, where, stuck)
    worker._periodic = lambda interval: lambda conn, now: None  # no sweep job to take first
    run_worker(f"{url}?client_name={NAME}")


def _blocked(conn: redis.Redis) -> bool:
    return any(c.get("name") == NAME and c.get("cmd") == "blpop" for c in conn.client_list())


def _wait(check: Any, what: str) -> None:
    deadline = time.monotonic() + 30
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _killed_at(conn: redis.Redis, url: str, where: str) -> Job:
    """An idle worker (blocked waiting) takes the job enqueued now and is SIGKILLed at `where`."""
    child = multiprocessing.get_context("fork").Process(target=_taken_then_stuck,
                                                        args=(url, where))
    child.start()
    try:
        _wait(lambda: _blocked(conn), "the worker never blocked waiting for work")
        _job(conn, 1, "idle")
        _wait(lambda: conn.get(TAKEN) is not None, "the worker never took the job")
    finally:
        os.kill(child.pid or 0, signal.SIGKILL)
        child.join()
    assert conn.get(TAKEN) == b"1-idle--note"
    queue = FairQueue(Urgency.DEFAULT.value, connection=conn)
    assert conn.llen(queue.key) == 0
    return Job.fetch("1-idle--note", connection=conn)


def _ran_once(conn: redis.Redis, url: str, job: Job) -> None:
    assert run_worker(url, burst=True) == 0
    assert _ran(conn) == ["1:idle"]
    assert job.get_status() == JobStatus.FINISHED


def test_a_job_an_idle_worker_took_and_died_with_goes_back_on_its_queue(
        redis_conn: redis.Redis, redis_url: str) -> None:
    """Killed right after it took the job, before anything else."""
    job = _killed_at(redis_conn, redis_url, "execute_job")
    queue = FairQueue(Urgency.DEFAULT.value, connection=redis_conn)
    assert redis_conn.lrange(queue.intermediate_queue_key, 0, -1) == [b"1-idle--note"]
    now = time.time()
    reap(redis_conn, now)  # first sight
    assert reap(redis_conn, now + GRACE + 1) == 1
    _ran_once(redis_conn, redis_url, job)


def test_a_job_whose_execution_was_recorded_by_a_dead_worker_is_reaped(
        redis_conn: redis.Redis, redis_url: str) -> None:
    """Killed after its execution was recorded (the started registry lists it), before the
    work horse ran: the job is `started` by that worker already, so the reaper retries it."""
    job = _killed_at(redis_conn, redis_url, "prepare_job_execution")
    assert job.get_status() == JobStatus.STARTED
    redis_conn.delete(ALIVE.format(name=job.worker_name))  # its liveness mark has expired
    later = time.time() + GRACE + 1
    assert reap(redis_conn, later) == 1
    assert enqueue_due(redis_conn, later + RETRY.intervals[0] + 1) == 1
    _ran_once(redis_conn, redis_url, job)
    assert job.retries_left == RETRY.max  # a dead worker is not the job's fault


def test_every_push_wakes_an_idle_worker_and_the_wake_list_stays_small(
        redis_conn: redis.Redis) -> None:
    from app.queue import WAKE, WAKE_KEEP

    queue = FairQueue(Urgency.DEFAULT.value, connection=redis_conn)
    for i in range(WAKE_KEEP + 5):
        _job(redis_conn, 1, f"w{i}")
    assert redis_conn.llen(WAKE.format(queue=queue.key)) == WAKE_KEEP
    assert redis_conn.llen(queue.key) == WAKE_KEEP + 5
