"""app.intake writes RQ jobs exactly as `Queue.enqueue_call` does, in one round trip."""

from __future__ import annotations

import pytest
import redis
from rq import Queue
from rq.job import Job

from app.intake import Intake, job_args
from app.queue import JobSpec, Urgency, enqueue, rq_enqueue

SPEC = JobSpec("plan", "jobs.planner.plan_pull_request",
               {"installation_id": 1, "repo": "o/r", "number": 2, "head_sha": "a" * 40,
                "delivery_id": "d"}, Urgency.URGENT, timeout=300)
VOLATILE = {b"created_at", b"enqueued_at", b"data"}  # timestamps; data: compressed by RQ


def _same_as_rq(redis_conn: redis.Redis) -> None:
    ours = redis_conn.hgetall(Job.key_for("by-us--plan"))
    theirs = redis_conn.hgetall(Job.key_for("by-rq--plan"))
    assert {k for k in theirs} == {k for k in ours}
    for key in theirs:
        if key not in VOLATILE and key != b"description":
            assert ours[key] == theirs[key], key
    a, b = Job.fetch("by-us--plan", redis_conn), Job.fetch("by-rq--plan", redis_conn)
    for attr in ("func_name", "args", "kwargs", "timeout", "retries_left", "retry_intervals",
                 "result_ttl", "failure_ttl", "origin",
                 "_success_callback_name", "_failure_callback_name"):
        assert getattr(a, attr) == getattr(b, attr), attr
    assert a.description == b.description


def test_the_job_hash_matches_what_rq_writes(redis_conn: redis.Redis) -> None:
    rq_enqueue(redis_conn, "by-rq", SPEC)
    _, args = job_args("by-us", SPEC)
    assert Intake(redis_conn).submit("by-us", [args], [])
    _same_as_rq(redis_conn)
    assert Queue(Urgency.URGENT.value, connection=redis_conn).job_ids == ["by-rq--plan",
                                                                         "by-us--plan"]


def test_a_job_enqueues_as_rq_would_in_one_round_trip(redis_conn: redis.Redis,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    rq_enqueue(redis_conn, "by-rq", SPEC)
    enqueue(redis_conn, "warm", SPEC)  # loads the script, seeds the shape
    calls: list[tuple] = []
    real = redis.Redis.execute_command
    monkeypatch.setattr(redis.Redis, "execute_command",
                        lambda self, *a, **k: calls.append(a) or real(self, *a, **k))
    assert enqueue(redis_conn, "by-us", SPEC) == "by-us--plan"
    assert len(calls) == 1
    _same_as_rq(redis_conn)
    assert enqueue(redis_conn, "first", SPEC, at_front=True) == "first--plan"
    assert Queue(Urgency.URGENT.value, connection=redis_conn).job_ids == [
        "first--plan", "by-rq--plan", "warm--plan", "by-us--plan"]
    redis_conn.flushdb()  # a flushed Redis: the template is seeded again
    enqueue(redis_conn, "again", SPEC)
    assert Job.fetch("again--plan", redis_conn).kwargs == SPEC.kwargs


def test_a_flushed_redis_is_seeded_again(redis_conn: redis.Redis) -> None:
    intake = Intake(redis_conn)
    assert intake.submit("one", [job_args("one", SPEC)[1]], [])
    redis_conn.flushdb()
    assert intake.submit("two", [job_args("two", SPEC)[1]], [])
    assert Job.fetch("two--plan", redis_conn).kwargs == SPEC.kwargs


def test_a_redelivery_writes_nothing(redis_conn: redis.Redis) -> None:
    intake = Intake(redis_conn)
    _, args = job_args("once", SPEC)
    assert intake.submit("once", [args], [("HINCRBY", "counter", "n", 1)])
    assert not intake.submit("once", [args], [("HINCRBY", "counter", "n", 1)])
    assert Queue(Urgency.URGENT.value, connection=redis_conn).job_ids == ["once--plan"]
    assert redis_conn.hget("counter", "n") == b"1"


def test_one_round_trip_per_delivery(redis_conn: redis.Redis,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    intake = Intake(redis_conn)
    intake.submit("warm", [job_args("warm", SPEC)[1]], [])  # loads the script, seeds the shape
    calls: list[tuple] = []
    pooled = redis_conn.connection_pool.get_connection()
    redis_conn.connection_pool.release(pooled)  # the warm connection stays the one used
    connection = type(pooled)
    original = connection.send_packed_command

    def counting(self, command, *args, **kwargs):  # type: ignore[no-untyped-def]
        packed = b"".join([command] if isinstance(command, bytes) else command)
        calls.append((packed.split(b"\r\n")[2].decode(),))  # *argc, $len, the name
        return original(self, command, *args, **kwargs)

    monkeypatch.setattr(connection, "send_packed_command", counting)
    _, args = job_args("rt", SPEC)
    intake.submit("rt", [args], [("HINCRBY", "counter", "n", 1)])
    assert calls == [("EVALSHA",)]


def test_the_intake_connection_comes_back_after_redis_drops_it(redis_url: str) -> None:
    from app.main import redis_from_url  # the web process's client: retries on reconnect

    conn = redis_from_url(redis_url)
    intake = Intake(conn)
    assert intake.submit("before", [job_args("before", SPEC)[1]], [])
    intake._connection.send_command("CLIENT", "ID")
    own = intake._connection.read_response()
    assert conn.client_kill_filter(_id=own) == 1  # Redis closes the delivery connection
    assert intake.submit("after", [job_args("after", SPEC)[1]], [])
    assert Queue(Urgency.URGENT.value, connection=conn).job_ids == ["before--plan",
                                                                   "after--plan"]
    intake.close()
    conn.close()


def test_timestamps_are_rqs_format_and_now() -> None:
    from datetime import UTC, datetime

    from rq.utils import utcformat, utcparse

    from app.intake import _now

    stamp = _now()
    assert len(stamp) == len(utcformat(datetime.now(UTC)))
    parsed = utcparse(stamp).replace(tzinfo=None)
    assert abs((parsed - datetime.now(UTC).replace(tzinfo=None)).total_seconds()) < 5
