"""One Redis round trip per delivery: dedupe, enqueue its RQ jobs, audit and count it.

The web process writes RQ jobs in RQ's own storage format without building RQ `Job` objects
per delivery (that costs more than the rest of the request: callbacks and timeouts resolved
through typing protocols, and a zlib stream per job). What RQ itself writes for a job of a
given shape - function, queue, timeout, retries, callbacks, TTLs - is taken once from RQ
(`Job.create(...).to_dict()`); per delivery only the call (pickled as RQ pickles it, stored
uncompressed, which RQ reads as such), its description and the timestamps change.
tests/app/test_intake.py holds this to what `Queue.enqueue_call` writes.

Everything is sent as one Lua script: SET NX on the delivery id, and only if that succeeded
the job writes, so a redelivery never enqueues twice and a delivery is never half-recorded.
"""

from __future__ import annotations

import pickle
from datetime import UTC, datetime
from typing import Any

import redis
from rq import Callback, Queue
from rq.job import Job, JobStatus
from rq.utils import get_call_string

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
_SCRIPT = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
local i = 2
while i <= #ARGV do
  local n = tonumber(ARGV[i])
  redis.call(unpack(ARGV, i + 1, i + n))
  i = i + n + 1
end
return 1
"""
Command = tuple[Any, ...]
_templates: dict[tuple[str, str, int], tuple[dict[str, Any], str]] = {}


def _template(spec: JobSpec) -> tuple[dict[str, Any], str]:
    """The hash RQ writes for a job of this shape, minus what changes per job; the queue key."""
    key = (spec.func, spec.urgency.value, spec.timeout)
    if key not in _templates:
        job = Job.create(spec.func, kwargs={}, connection=redis.Redis(), timeout=spec.timeout,
                         result_ttl=RESULT_TTL, failure_ttl=FAILURE_TTL,
                         on_success=Callback(on_job_success),
                         on_failure=Callback(on_job_failure), origin=spec.urgency.value,
                         status=JobStatus.QUEUED)
        job.retries_left, job.retry_intervals = RETRY.max, RETRY.intervals
        fields = job.to_dict()
        for per_job in ("created_at", "enqueued_at", "data", "description"):
            fields.pop(per_job, None)
        fields["status"] = JobStatus.QUEUED.value
        queue = Queue(spec.urgency.value, connection=redis.Redis())
        _templates[key] = fields, queue.key
    return _templates[key]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def job_commands(delivery_id: str, spec: JobSpec) -> tuple[str, list[Command]]:
    """The Redis commands that enqueue `spec` exactly as RQ would, and the job id."""
    job_id = job_id_for(delivery_id, spec.name)
    kwargs = dict(spec.kwargs)
    now = _now()
    static, queue_key = _template(spec)
    fields = {**static, "created_at": now, "enqueued_at": now,
              "data": pickle.dumps((spec.func, None, (), kwargs), pickle.HIGHEST_PROTOCOL),
              "description": get_call_string(spec.func, (), kwargs)}
    flat: list[Any] = []
    for name, value in fields.items():
        flat += [name, value]
    return job_id, [("SADD", Queue.redis_queues_keys, queue_key),
                    ("HSET", Job.key_for(job_id), *flat),
                    ("RPUSH", queue_key, job_id)]


def recorded(pipe: Any) -> list[Command]:
    """The commands queued on a redis-py pipeline that was never executed."""
    return [tuple(args) for args, _options in pipe.command_stack]


class Intake:
    def __init__(self, conn: redis.Redis) -> None:
        self.conn = conn
        self.script = conn.register_script(_SCRIPT)

    def submit(self, delivery_id: str, commands: list[Command]) -> bool:
        """Run `commands` unless this delivery was seen; False for a duplicate."""
        argv: list[Any] = [DEDUPE_TTL]
        for cmd in commands:
            argv += [len(cmd), *cmd]
        return bool(self.script(keys=[f"shipcrew:delivery:{delivery_id}"], args=argv))
