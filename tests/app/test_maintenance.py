"""The reaper, the leader and the scheduler, with real workers SIGKILLed under their jobs."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time

import redis
from rq import SimpleWorker
from rq.job import Job, JobStatus

from app.maintenance import ALIVE, GRACE, Maintenance, enqueue_due, lead, mark_alive, reap
from app.metrics import render
from app.queue import RETRY, JobSpec, enqueue, queues
from app.recovery import schedule


def slow_once(*, key: str) -> str:
    """Sleeps through its first attempt (long enough to be killed), returns on the next."""
    from rq import get_current_job

    conn = get_current_job().connection  # type: ignore[union-attr]
    if conn.incr(key) == 1:
        time.sleep(60)
    return "done"


def _work(url: str) -> None:
    conn = redis.Redis.from_url(url)
    SimpleWorker(queues(conn), connection=conn).work(burst=True, logging_level="ERROR")


def _killed_mid_job(conn: redis.Redis, url: str, name: str) -> Job:
    job_id = enqueue(conn, name, JobSpec("slow", "tests.app.test_maintenance.slow_once",
                                         {"key": f"attempts:{name}"}))
    child = multiprocessing.get_context("fork").Process(target=_work, args=(url,))
    child.start()
    deadline = time.monotonic() + 20
    while conn.get(f"attempts:{name}") is None:
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.05)
    os.kill(child.pid or 0, signal.SIGKILL)
    child.join()
    return Job.fetch(job_id, connection=conn)


def test_a_job_whose_worker_died_is_retried_without_using_its_retries(
        redis_conn: redis.Redis, redis_url: str) -> None:
    job = _killed_mid_job(redis_conn, redis_url, "d-killed")
    assert job.get_status() == JobStatus.STARTED
    later = time.time() + GRACE + 1
    reaped: list[int] = []  # from a thread, as the maintenance thread does (no signals there)
    thread = threading.Thread(target=lambda: reaped.append(reap(redis_conn, later)))
    thread.start()
    thread.join()
    assert reaped == [1]
    job.refresh()
    assert job.get_status() == JobStatus.SCHEDULED  # RQ's retry, with its backoff
    assert job.retries_left == RETRY.max  # a dead worker is not the job's fault
    assert enqueue_due(redis_conn, later + RETRY.intervals[0] + 1) == 1
    SimpleWorker(queues(redis_conn), connection=redis_conn).work(burst=True,
                                                                 logging_level="ERROR")
    job.refresh()
    assert (job.get_status(), job.return_value()) == (JobStatus.FINISHED, "done")
    assert int(redis_conn.get("attempts:d-killed") or 0) == 2
    assert "shipcrew_jobs_reaped_total 1" in render(redis_conn)


def test_a_live_workers_job_is_left_alone(redis_conn: redis.Redis, redis_url: str) -> None:
    job = _killed_mid_job(redis_conn, redis_url, "d-alive")
    assert job.worker_name
    mark_alive(redis_conn, [job.worker_name])  # as if it were still running
    assert reap(redis_conn, time.time() + GRACE + 1) == 0
    redis_conn.delete(ALIVE.format(name=job.worker_name))
    assert reap(redis_conn, time.time() + GRACE + 1) == 1


def test_one_leader_at_a_time_and_a_successor_when_it_stops(redis_conn: redis.Redis) -> None:
    assert lead(redis_conn, "a") and lead(redis_conn, "a")  # taken, then renewed
    assert not lead(redis_conn, "b")
    redis_conn.delete("shipcrew:leader")  # "a" died: its key expired
    assert lead(redis_conn, "b") and not lead(redis_conn, "a")


def test_the_leader_schedules_recovery_once_then_at_its_interval(redis_conn: redis.Redis) -> None:
    seen: list[float] = []
    m = Maintenance(lambda: redis_conn, "me", lambda conn, now: seen.append(now))
    m.names = {"w1"}
    since = m.tick(redis_conn, 100.0, None)
    assert since == 100.0 and seen == [100.0]
    assert redis_conn.exists(ALIVE.format(name="w1"))
    assert schedule(redis_conn, 100.0, 30) is True
    assert schedule(redis_conn, 110.0, 30) is False  # one in flight (and not due)
    queued = [j for q in queues(redis_conn) for j in q.job_ids]
    assert len(queued) == 1 and queued[0].endswith("--recover-deliveries")


def test_a_periodic_job_lost_from_every_list_does_not_stop_its_schedule(
        redis_conn: redis.Redis) -> None:
    """A `queued` job that is on no list (a worker took it and died, before wake lists) would
    never run: recovery must not wait on it for good, as one chaos run saw it do."""
    assert schedule(redis_conn, 100.0, 30) is True
    [queue] = [q for q in queues(redis_conn) if q.job_ids]
    [lost] = queue.job_ids
    redis_conn.lrem(queue.key, 1, lost)  # gone from the queue, still `queued`
    assert Job.fetch(lost, connection=redis_conn).get_status() == JobStatus.QUEUED
    assert schedule(redis_conn, 200.0, 30) is True
    [again] = queue.job_ids
    assert again != lost
    assert schedule(redis_conn, 300.0, 30) is False  # that one is on its queue
