"""One Redis round trip per delivery: dedupe, enqueue its RQ jobs, audit and count it.

The web process writes RQ jobs in RQ's own storage format without building RQ `Job` objects
per delivery (that costs more than the rest of the request: callbacks and timeouts resolved
through typing protocols, and a zlib stream per job). What RQ itself writes for a job of a
given shape - function, queue, timeout, retries, callbacks, TTLs - is taken once from RQ
(`Job.create(...).to_dict()`) and kept in Redis as a template hash that the script COPYs;
per delivery only the call (pickled as RQ pickles it, stored
uncompressed, which RQ reads as such), its description and the timestamps change.
tests/app/test_intake.py holds this to what `Queue.enqueue_call` writes.

Everything is sent as one Lua script: SET NX on the delivery id, and only if that succeeded
the job writes, so a redelivery never enqueues twice and a delivery is never half-recorded.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import threading
import time
from datetime import UTC, datetime
from typing import Any

import hiredis
import redis
from rq import Callback, Queue
from rq.job import Job, JobStatus

from app.queue import (
    FAILURE_TTL,
    RESULT_TTL,
    RETRY,
    JobSpec,
    job_id_for,
    on_job_failure,
    on_job_success,
)

DEDUPE_TTL = 7 * 24 * 3600  # GitHub lets a delivery be redelivered for days
# KEYS: the delivery's dedupe key, RQ's set of queues. ARGV: TTL, timestamp, job count, then
# per job its template key, job key, queue key, job id, pickled call, description, then any
# further commands as (argc, args...). A job is COPY of its template (the fields every job of
# that shape shares, seeded by `Intake`) plus its own fields. Returns -1 when a template is
# missing (a flushed Redis): the caller seeds it and sends the delivery again.
_SCRIPT = """
local n = tonumber(ARGV[3])
for j = 0, n - 1 do
  if redis.call('EXISTS', ARGV[4 + 6 * j]) == 0 then return -1 end
end
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
local now, i = ARGV[2], 4
for _ = 1, n do
  redis.call('COPY', ARGV[i], ARGV[i + 1], 'REPLACE')
  redis.call('HSET', ARGV[i + 1], 'created_at', now, 'enqueued_at', now, 'data', ARGV[i + 4],
             'description', ARGV[i + 5])
  redis.call('SADD', KEYS[2], ARGV[i + 2])
  redis.call('RPUSH', ARGV[i + 2], ARGV[i + 3])
  redis.call('RPUSH', ARGV[i + 2] .. ':wake', '1')  -- app.queue.wake
  redis.call('LTRIM', ARGV[i + 2] .. ':wake', -64, -1)
  i = i + 6
end
while i <= #ARGV do
  local argc = tonumber(ARGV[i])
  redis.call(unpack(ARGV, i + 1, i + argc))
  i = i + argc + 1
end
return 1
"""
# One job, no dedupe: what a job enqueues (app.queue.enqueue). KEYS: template, job key, queue
# key, RQ's set of queues. ARGV: timestamp, pickled call, description, job id, at front (1/0).
_ONE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('COPY', KEYS[1], KEYS[2], 'REPLACE')
redis.call('HSET', KEYS[2], 'created_at', ARGV[1], 'enqueued_at', ARGV[1], 'data', ARGV[2],
           'description', ARGV[3])
redis.call('SADD', KEYS[4], KEYS[3])
if ARGV[5] == '1' then redis.call('LPUSH', KEYS[3], ARGV[4])
else redis.call('RPUSH', KEYS[3], ARGV[4]) end
redis.call('RPUSH', KEYS[3] .. ':wake', '1')  -- app.queue.wake
redis.call('LTRIM', KEYS[3] .. ':wake', -64, -1)
return 1
"""
_ONE_SHA = hashlib.sha1(_ONE.encode()).hexdigest()
Command = tuple[Any, ...]
PER_JOB = ("created_at", "enqueued_at", "data", "description")
TEMPLATES = "shipcrew:rq-template:"


class _Shape:
    """What RQ writes for every job of one shape: its fields, their key in Redis, the queue."""

    def __init__(self, spec: JobSpec) -> None:
        job = Job.create(spec.func, kwargs={}, connection=redis.Redis(), timeout=spec.timeout,
                         result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL,
                         on_success=Callback(on_job_success),
                         on_failure=Callback(on_job_failure), origin=spec.urgency.value,
                         status=JobStatus.QUEUED)
        job.retries_left, job.retry_intervals = RETRY.max, RETRY.intervals
        fields = job.to_dict()
        for per_job in PER_JOB:
            fields.pop(per_job, None)
        if any(isinstance(v, bytes) for v in fields.values()):
            raise TypeError(f"RQ now writes binary job fields: {sorted(fields)}")
        self.fields = {k: v.value if isinstance(v, JobStatus) else str(v)
                       for k, v in fields.items()}
        digest = hashlib.sha1(json.dumps(self.fields, sort_keys=True).encode()).hexdigest()
        self.key = TEMPLATES + digest[:16]
        self.queue_key = Queue(spec.urgency.value, connection=redis.Redis()).key


_shapes: dict[tuple[str, str, int], _Shape] = {}


def _shape(spec: JobSpec) -> _Shape:
    key = (spec.func, spec.urgency.value, spec.timeout)
    if key not in _shapes:
        _shapes[key] = _Shape(spec)
    return _shapes[key]


def job_args(delivery_id: str, spec: JobSpec) -> tuple[str, list[Any]]:
    """The job id and the script's six arguments that enqueue `spec` exactly as RQ would."""
    job_id = job_id_for(delivery_id, spec.name)
    kwargs = dict(spec.kwargs)
    shape = _shape(spec)
    return job_id, [shape.key, Job.key_for(job_id), shape.queue_key, job_id,
                    pickle.dumps((spec.func, None, (), kwargs), pickle.HIGHEST_PROTOCOL),
                    call_string(spec.func, kwargs)]


def call_string(func: str, kwargs: dict[str, Any]) -> str:
    """RQ's job description (`rq.utils.get_call_string` without arguments or truncation:
    `repr` is already text), at a third of its cost."""
    return f"{func}({', '.join(sorted([f'{k}={v!r}' for k, v in kwargs.items()]))})"


_second: tuple[int, str] = (-1, "")  # the last whole second, formatted


def _now() -> str:
    """RQ's timestamp format (utcformat), formatting each second only once."""
    global _second
    now = time.time()
    whole = int(now)
    if whole != _second[0]:
        _second = (whole, datetime.fromtimestamp(whole, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    return f"{_second[1]}.{int((now - whole) * 1e6):06d}Z"


def enqueue_one(conn: redis.Redis, delivery_id: str, spec: JobSpec, at_front: bool) -> str:
    """Enqueue `spec` as RQ's `Queue.enqueue_call` would (app.queue.rq_enqueue), in one round
    trip: RQ builds and serializes a `Job` for each (~0.5 ms of CPU, a few round trips)."""
    job_id, (template, key, queue_key, _, call, description) = job_args(delivery_id, spec)
    keys = [template, key, queue_key, Queue.redis_queues_keys]
    argv = [_now(), call, description, job_id, int(at_front)]
    for _ in range(2):
        try:
            result = conn.evalsha(_ONE_SHA, len(keys), *keys, *argv)
        except redis.exceptions.NoScriptError:
            result = conn.eval(_ONE, len(keys), *keys, *argv)
        if result != -1:
            return job_id
        shape = _shape(spec)  # first use, or Redis lost the template: seed it, send again
        conn.hset(shape.key, mapping=shape.fields)
    raise RuntimeError(f"could not enqueue {job_id}: its template vanished twice")


class Intake:
    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn
        self.sha = conn.register_script(_SCRIPT).sha
        # One connection borrowed from the client's pool for good (taking and returning one
        # per delivery costs more than packing the command; closing the client closes it);
        # a lock, should threads share it.
        self._connection: redis.Connection | None = None  # borrowed on first use
        self._lock = threading.Lock()

    def _run(self, keys: list[str], argv: list[Any]) -> Any:
        # EVALSHA on a pooled connection, with the client's retry policy: redis-py's Script
        # wrapper and its per-command observability cost as much CPU as the round trip.
        try:
            return self._evalsha(keys, argv)
        except redis.exceptions.NoScriptError:
            self.conn.script_load(_SCRIPT)
            return self._evalsha(keys, argv)

    def _evalsha(self, keys: list[str], argv: list[Any]) -> Any:
        packed: bytes = hiredis.pack_command(("EVALSHA", self.sha, len(keys), *keys, *argv))
        with self._lock:  # a failed attempt reconnects on the next (the client's retries)
            if self._connection is None:
                self._connection = self.conn.connection_pool.get_connection()  # type: ignore[assignment]
            connection = self._connection
            assert connection is not None

            def call() -> Any:
                connection.send_packed_command([packed])
                return connection.read_response()

            return connection.retry.call_with_retry(
                call, lambda _error: connection.disconnect())

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self.conn.connection_pool.release(self._connection)
                self._connection = None

    def submit(self, delivery_id: str, jobs: list[list[Any]], commands: list[Command]) -> bool:
        """Enqueue `jobs` (from `job_args`) and run `commands`, unless this delivery was seen
        already; False for a duplicate."""
        argv: list[Any] = [DEDUPE_TTL, _now(), len(jobs)]
        for args in jobs:
            argv += args
        for cmd in commands:
            argv += [len(cmd), *cmd]
        keys = [f"shipcrew:delivery:{delivery_id}", Queue.redis_queues_keys]
        result = self._run(keys, argv)
        if result == -1:  # first use, or Redis lost the templates: seed them, send again
            for shape in _shapes.values():
                self.conn.hset(shape.key, mapping=shape.fields)
            result = self._run(keys, argv)
        return bool(result == 1)
