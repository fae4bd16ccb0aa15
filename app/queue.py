"""RQ queues by urgency, enqueue with delivery-derived ids, retries, failure records."""

from __future__ import annotations

import hashlib
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
from rq.exceptions import DequeueTimeout
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


# Fair share: a worker takes, from the first non-empty queue in urgency order, the job (among
# the first FAIR_WINDOW) of the installation served least recently, so one installation's
# burst does not starve another's single PR; within an installation, queue order (a PR's
# follow-up work is enqueued at the front). The installation is read from the job's
# description, which RQ writes as the call: `...(..., installation_id=123, ...)`.
# The pop moves the job to RQ's intermediate list of its queue, as RQ's own LMOVE does, until
# the worker has marked it started (`ReliableDequeue`): a worker killed in between leaves it
# there, and the reaper (app.maintenance) puts it back on its queue.
# An idle worker never pops while it blocks (RQ's multi-queue BLPOP hands the job to a worker
# that a SIGKILL can take with it before anything records it): it blocks on its queues' wake
# lists, which every push also feeds (one token, the list capped), then pops as above; and it
# looks again by itself every WAKE_WAIT seconds, for a push that sent no token.
FAIR_WINDOW = 200
WAKE = "{queue}:wake"  # RQ's queue key + ":wake"
WAKE_KEEP = 64
WAKE_WAIT = 1.0
SERVED = "shipcrew:served:{queue}"  # installation -> stamp of its last dequeue; "#": counter
_FAIR_POP = """
local ids = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #ids == 0 then return false end
local best, best_owner, best_seen
for _, id in ipairs(ids) do
  local desc = redis.call('HGET', ARGV[2] .. id, 'description')
  local owner = ''
  if desc then
    for found in string.gmatch(desc, '[(,] ?installation_id=(%d+)') do owner = found end
  end
  local seen = tonumber(redis.call('HGET', KEYS[2], owner) or '0')
  if best == nil or seen < best_seen then best, best_owner, best_seen = id, owner, seen end
  if seen == 0 then break end
end
redis.call('LREM', KEYS[1], 1, best)
redis.call('RPUSH', KEYS[3], best)
redis.call('HSET', KEYS[2], best_owner, redis.call('HINCRBY', KEYS[2], '#', 1))
redis.call('EXPIRE', KEYS[2], 86400)
return best
"""


_FAIR_SHA = hashlib.sha1(_FAIR_POP.encode()).hexdigest()


def _fair_pop(conn: redis.Redis, queue: Queue) -> Any:
    args = (3, queue.key, SERVED.format(queue=queue.name), queue.intermediate_queue_key,
            FAIR_WINDOW,
            Job.redis_job_namespace_prefix)
    try:
        return conn.evalsha(_FAIR_SHA, *args)
    except redis.exceptions.NoScriptError:
        return conn.eval(_FAIR_POP, *args)


def wake(conn: Any, queue_key: str) -> None:
    """Wake one idle worker of the queue (`conn` may be a pipeline)."""
    conn.rpush(WAKE.format(queue=queue_key), 1)
    conn.ltrim(WAKE.format(queue=queue_key), -WAKE_KEEP, -1)


class FairQueue(Queue):
    """RQ's queue with a fair dequeue for the workers (`queue_class`) and a wake-up for idle
    workers on every push; enqueueing and every registry are RQ's own."""

    def push_job_id(self, job_id: str, pipeline: Any = None, at_front: bool = False) -> None:
        super().push_job_id(job_id, pipeline=pipeline, at_front=at_front)
        wake(pipeline if pipeline is not None else self.connection, self.key)

    @classmethod
    def dequeue_any(cls, queues: Any, timeout: int | None, connection: redis.Redis,
                    job_class: Any = None, serializer: Any = None,
                    death_penalty_class: Any = None) -> tuple[Job, Queue] | None:
        queue_list = list(queues)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            for queue in queue_list:
                raw = _fair_pop(connection, queue)
                if raw is None:
                    continue
                job_id = raw.decode() if isinstance(raw, bytes) else str(raw)
                found = cls._fetch_dequeued_job(connection, queue.key, job_id,
                                                job_class=job_class, serializer=serializer,
                                                death_penalty_class=death_penalty_class)
                if found is not None:
                    return found
                break  # a job that no longer exists: look again from the top
            else:
                if deadline is None:
                    return None
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DequeueTimeout(timeout, [q.key for q in queue_list])
                # All empty: block until a push wakes us, then pop as above.
                connection.blpop([WAKE.format(queue=q.key) for q in queue_list],
                                 max(0.01, min(WAKE_WAIT, left)))


def queues(conn: redis.Redis) -> list[Queue]:
    return [FairQueue(q.value, connection=conn) for q in QUEUE_ORDER]


def job_id_for(delivery_id: str, name: str) -> str:
    """Deterministic, so a redelivered webhook maps onto the job it already made."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", f"{delivery_id}--{name}")


def enqueue(conn: redis.Redis, delivery_id: str, spec: JobSpec, pipeline: Any = None,
            at_front: bool = False) -> str:
    """`at_front`: a PR's follow-up work, taken before other PRs' new work of the same
    installation (across installations `FairQueue` shares the workers). Written as RQ would
    write it, in one round trip (app.intake.enqueue_one); in a `pipeline`, by RQ itself."""
    if pipeline is None:
        from app.intake import enqueue_one

        return enqueue_one(conn, delivery_id, spec, at_front)
    return rq_enqueue(conn, delivery_id, spec, pipeline, at_front)


def rq_enqueue(conn: redis.Redis, delivery_id: str, spec: JobSpec, pipeline: Any = None,
               at_front: bool = False) -> str:
    """`enqueue` by RQ's own `Queue.enqueue_call` (what app.intake is held to)."""
    job_id = job_id_for(delivery_id, spec.name)
    FairQueue(spec.urgency.value, connection=conn).enqueue_call(
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
        at_front=at_front,
    )
    return job_id


_RATE_LIMIT_WORDS = ("rate limit", "abuse detection")
FREE_ABANDONS = 5  # a worker killed under a job does not use the job's retries (up to this)
_ABANDONED = "shipcrew:abandoned:{job}"
MAX_BACKOFF = 300.0


def _response(exc: BaseException) -> httpx.Response | None:
    """The HTTP answer behind a githubkit error: RequestFailed carries it; a failed token
    request reaches us as RequestError around httpx's HTTPStatusError."""
    from githubkit.exception import RequestError, RequestFailed

    if isinstance(exc, RequestFailed):
        return exc.response.raw_response
    if isinstance(exc, RequestError) and isinstance(exc.exc, httpx.HTTPStatusError):
        return exc.exc.response
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response
    return None


def rate_limited(resp: httpx.Response) -> bool:
    if resp.status_code == 429:
        return True
    if resp.status_code != 403:
        return False
    if "retry-after" in resp.headers or resp.headers.get("x-ratelimit-remaining") == "0":
        return True
    return any(word in resp.text.lower() for word in _RATE_LIMIT_WORDS)


def is_transient(exc: BaseException | None) -> bool:
    """Worth retrying: the network, Redis, a worker that died under the job, GitHub's 5xx
    and rate limits (primary and secondary), token requests included."""
    from githubkit.exception import RateLimitExceeded, RequestError
    from rq.exceptions import AbandonedJobError

    if exc is None:
        return False
    if type(exc) is RequestError and isinstance(exc.exc, BaseException):
        return is_transient(exc.exc)  # a failed token request wraps GitHub's answer
    if isinstance(exc, RateLimitExceeded | AbandonedJobError | redis.ConnectionError
                  | redis.TimeoutError):
        return True
    if isinstance(exc, httpx.TransportError | TimeoutError | ConnectionError):
        return True
    resp = _response(exc)
    if resp is not None:
        return resp.status_code >= 500 or rate_limited(resp)
    if isinstance(exc, RequestError):  # githubkit around a transport error or a timeout
        return isinstance(exc.exc, httpx.TransportError | TimeoutError | ConnectionError)
    return False


def backoff_hint(exc: BaseException | None, now: float) -> float | None:
    """How long GitHub asked us to wait (`retry-after`, else `x-ratelimit-reset` when the
    quota is used up), capped; None when it did not say."""
    from githubkit.exception import RateLimitExceeded, RequestError

    if type(exc) is RequestError and isinstance(exc.exc, BaseException):
        return backoff_hint(exc.exc, now)
    if isinstance(exc, RateLimitExceeded) and exc.retry_after.total_seconds() > 0:
        return min(MAX_BACKOFF, exc.retry_after.total_seconds())
    resp = _response(exc) if exc is not None else None
    if resp is None or not rate_limited(resp):
        return None
    after, reset = resp.headers.get("retry-after", ""), resp.headers.get("x-ratelimit-reset", "")
    if after.isdigit():
        return min(MAX_BACKOFF, float(after))
    if reset.isdigit() and resp.headers.get("x-ratelimit-remaining") == "0":
        return min(MAX_BACKOFF, max(1.0, int(reset) - now))
    return None


def _duration(job: Job) -> float:
    return max(0.0, time.time() - job.started_at.timestamp()) if job.started_at else 0.0


def on_job_success(job: Job, connection: redis.Redis, result: Any, *args: Any) -> None:
    from app.metrics import record_job

    record_job(connection, job.func_name, "succeeded", _duration(job))


def _dead_letter(job: Job, connection: redis.Redis, error: str) -> None:
    from app.checks import close_orphan
    from app.deadletter import record_dead
    from app.github import client_for

    try:
        record_dead(connection, job)
        close_orphan(client_for, job, error)
    except Exception as exc:  # noqa: BLE001 - a callback must never take the worker down
        log.warning("could not close the check run of job %s: %s", job.id, exc)


def _plan_retry(job: Job, connection: redis.Redis, value: BaseException | None) -> None:
    """Adjust the retry RQ is about to make: none for errors that will not heal, a free one
    for a job whose worker died under it, and GitHub's own wait when it named one."""
    from rq.exceptions import AbandonedJobError

    if not is_transient(value):
        job.retries_left = 0
        return
    if isinstance(value, AbandonedJobError) and job.retries_left is not None:
        key = _ABANDONED.format(job=job.id)
        with connection.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, FAILURE_TTL)
            count = int(pipe.execute()[0])
        if count <= FREE_ABANDONS:
            job.retries_left += 1
    hint = backoff_hint(value, time.time())
    if hint is not None and job.retries_left and job.retry_intervals:
        intervals = list(job.retry_intervals)
        index = max(len(intervals) - job.retries_left, 0)
        if index < len(intervals):
            intervals[index] = max(intervals[index], int(hint) + 1)
            job.retry_intervals = intervals


def on_job_failure(
    job: Job, connection: redis.Redis, typ: Any, value: BaseException | None, tb: Any
) -> None:
    """Record every failure; stop retries for errors that will not heal by waiting; a job
    out of retries becomes a dead letter (a failed check run with a Retry button)."""
    from app.audit import AuditTrail
    from app.metrics import record_job

    _plan_retry(job, connection, value)
    final = not job.should_retry
    record_job(connection, job.func_name, "failed" if final else "retried", _duration(job))
    error = f"{type(value).__name__}: {value}"[:2000]
    if final:
        _dead_letter(job, connection, error)
    AuditTrail(connection).record(
        "job_failed",
        job=job.id,
        func=job.func_name,
        error=error,
        final=final,
        repo=job.kwargs.get("repo"),
    )
    log.warning("job %s failed (%s): %s", job.id, "final" if final else "will retry", value)
