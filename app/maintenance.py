"""What keeps the queues moving when parts die, run by every worker process.

Each worker process marks itself alive every second (a key with a 4 s TTL). One process at a
time - the leader, elected with a Redis key that expires when its holder stops renewing it -
also:

- enqueues scheduled jobs that are due (retries with backoff, soak re-checks), replacing
  RQ's scheduler, whose lock outlives a dead worker by a minute and is retaken only in RQ's
  10-minute maintenance;
- reaps: a started job whose worker is no longer alive is handed back to RQ's own abandoned-
  job handling (the failure callback sees `AbandonedJobError`, a transient error, and the job
  is retried), and a job dequeued by a worker that died before starting it is requeued;
- enqueues the missed-delivery recovery job every `delivery_recovery_interval` seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

import redis
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from rq.timeouts import TimerDeathPenalty

from app import metrics
from app.queue import JobSpec, enqueue, queues, wake

log = logging.getLogger(__name__)
ALIVE = "shipcrew:alive:{name}"
ALIVE_TTL = 4
LEADER = "shipcrew:leader"
LEADER_TTL = 5
TICK = 1.0
GRACE = 3.0  # a job this young may belong to a worker whose first mark is in flight
_LIMBO = "shipcrew:limbo:{job}"
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('expire', KEYS[1], ARGV[2])
end
return 0
"""


def mark_alive(conn: redis.Redis, names: Iterable[str]) -> None:
    with conn.pipeline(transaction=False) as pipe:
        for name in names:
            pipe.set(ALIVE.format(name=name), 1, ex=ALIVE_TTL)
        pipe.execute()


def lead(conn: redis.Redis, me: str) -> bool:
    """Take or keep the leadership; False while another live process holds it."""
    if conn.set(LEADER, me, nx=True, ex=LEADER_TTL):
        return True
    return bool(conn.eval(_RENEW, 1, LEADER, me, LEADER_TTL))


def enqueue_due(conn: redis.Redis, now: float) -> int:
    moved = 0
    for queue in queues(conn):
        registry = ScheduledJobRegistry(queue=queue)
        for job_id in registry.get_jobs_to_schedule(int(now)):
            job = queue.fetch_job(job_id)
            with conn.pipeline() as pipe:
                if job is not None:
                    queue._enqueue_job(job, pipeline=pipe, at_front=job.should_enqueue_at_front())
                registry.remove(job_id, pipeline=pipe)
                pipe.execute()
            moved += job is not None
    return moved


def schedule_job(conn: redis.Redis, now: float, interval: float, spec: JobSpec, job_key: str,
                 next_key: str, *, force: bool = False) -> bool:
    """Enqueue a periodic job when due (or `force`d) and none is in flight: the job's id goes
    to `job_key`, when it is due next to `next_key`."""
    due = conn.get(next_key)
    if not force and due is not None and now < float(due):
        return False
    current = conn.get(job_key)
    if current is not None:
        job_id = current.decode() if isinstance(current, bytes) else str(current)
        job = Job.fetch_many([job_id], connection=conn)[0]
        if job is not None and _in_flight(conn, job):
            return False
    job_id = enqueue(conn, f"at-{int(now * 1000)}", spec)
    conn.set(job_key, job_id, ex=3 * 24 * 3600)
    conn.set(next_key, now + interval)
    return True


def _in_flight(conn: redis.Redis, job: Job) -> bool:
    """Yet to end. A `queued` job counts only while it is on its queue (or taken off it): one
    lost from every list must not hold its successors back for good."""
    status = job.get_status(refresh=False)
    if status == JobStatus.QUEUED:
        key = f"{Queue.redis_queue_namespace_prefix}{job.origin}"
        return any(conn.lpos(k, job.id) is not None for k in (key, f"{key}:intermediate"))
    return status in (JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED)


def _orphaned(conn: redis.Redis, job: Job | None, now: float) -> bool:
    if job is None or job.get_status(refresh=False) != JobStatus.STARTED:
        return False
    if job.started_at is not None and now - job.started_at.timestamp() < GRACE:
        return False
    return not job.worker_name or not conn.exists(ALIVE.format(name=job.worker_name))


def reap(conn: redis.Redis, now: float) -> int:
    """Hand back the work of dead workers; returns how many jobs."""
    reaped = 0
    for queue in queues(conn):
        # The failure callback runs in this thread: signals (RQ's default) need the main one.
        registry = StartedJobRegistry(queue=queue, death_penalty_class=TimerDeathPenalty)
        dead: list[bytes] = []
        entries: list[bytes] = conn.zrange(registry.key, 0, -1)  # type: ignore[assignment]
        for entry in entries:
            job = queue.fetch_job(registry.parse_job_id(entry.decode()))
            if _orphaned(conn, job, now):
                dead.append(entry)
        if dead:
            conn.zadd(registry.key, dict.fromkeys(dead, 0), xx=True)
            registry.cleanup(now)  # RQ's path: failure callback, then retry or failed
            reaped += len(dead)
        reaped += _requeue_limbo(conn, queue, now)
    if reaped:
        metrics.count(conn, "reaped", n=reaped)
        log.warning("reaped %d job(s) of dead workers", reaped)
    return reaped


def _requeue_limbo(conn: redis.Redis, queue: Queue, now: float) -> int:
    """Jobs a worker took off the queue and died before starting."""
    moved = 0
    for raw in conn.lrange(queue.intermediate_queue_key, 0, -1):
        job_id = raw.decode() if isinstance(raw, bytes) else str(raw)
        if job_id in queue.started_job_registry:
            continue
        key = _LIMBO.format(job=job_id)
        conn.set(key, now, nx=True, ex=600)
        if now - float(conn.get(key) or now) < GRACE:
            continue
        job = queue.fetch_job(job_id)
        again = job is not None and job.get_status(refresh=False) == JobStatus.QUEUED
        with conn.pipeline() as pipe:
            pipe.lrem(queue.intermediate_queue_key, 1, job_id)
            if again:
                pipe.lpush(queue.key, job_id)
                wake(pipe, queue.key)
            pipe.delete(key)
            pipe.execute()
        moved += again
    return moved


class Maintenance:
    """The per-process thread: liveness always; scheduling, reaping, recovery when leader."""

    def __init__(self, connect: Callable[[], redis.Redis], me: str,
                 periodic: Callable[[redis.Redis, float], None] | None = None) -> None:
        self.connect = connect
        self.me = me
        self.names: set[str] = set()
        self.periodic = periodic
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="maintenance")

    def start(self) -> Maintenance:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        conn = self.connect()
        leading_since: float | None = None
        while True:
            try:
                leading_since = self.tick(conn, time.time(), leading_since)
            except redis.RedisError as exc:
                log.warning("maintenance: redis unavailable: %s", exc)
                leading_since = None  # after an outage, give the workers time to re-mark
            except Exception:  # noqa: BLE001 - this thread must outlive any one failure
                log.exception("maintenance tick failed")
            if self._stop.wait(TICK):
                return

    def tick(self, conn: redis.Redis, now: float, leading_since: float | None) -> float | None:
        mark_alive(conn, set(self.names))
        if not lead(conn, self.me):
            return None
        since = leading_since if leading_since is not None else now
        enqueue_due(conn, now)
        if now - since >= ALIVE_TTL:  # every live worker has marked itself since we took over
            reap(conn, now)
        if self.periodic is not None:
            self.periodic(conn, now)
        return since
