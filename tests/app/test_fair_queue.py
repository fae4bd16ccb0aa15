"""Fair share between installations (counts and order, not time): a real worker as
`shipcrew worker` builds it, over real Redis, taking jobs that record the order they ran in."""

from __future__ import annotations

import time

import redis
from rq import SimpleWorker, get_current_job

from app.queue import FairQueue, JobSpec, Urgency, enqueue, queues
from app.worker import run_worker

RAN = "test:ran"


def note(*, installation_id: int, tag: str, delivery_id: str = "") -> None:
    job = get_current_job()
    assert job is not None
    job.connection.rpush(RAN, f"{installation_id}:{tag}")


def _job(conn: redis.Redis, installation: int, tag: str, urgency: Urgency = Urgency.DEFAULT,
         at_front: bool = False) -> None:
    enqueue(conn, f"{installation}-{tag}", JobSpec(
        "note", "tests.app.test_fair_queue.note",
        {"installation_id": installation, "tag": tag, "delivery_id": f"{installation}-{tag}"},
        urgency), at_front=at_front)


def _ran(conn: redis.Redis) -> list[str]:
    return [x.decode() for x in conn.lrange(RAN, 0, -1)]  # type: ignore[union-attr]


def test_one_installations_burst_does_not_starve_anothers_single_pr(
        redis_conn: redis.Redis, redis_url: str) -> None:
    for i in range(50):
        _job(redis_conn, 1, f"pr{i}")
    _job(redis_conn, 2, "pr0")
    assert run_worker(redis_url, burst=True) == 0  # the worker `shipcrew worker` runs
    ran = _ran(redis_conn)
    assert len(ran) == 51
    assert ran.index("2:pr0") == 1  # right after the first job of the burst, not 51st
    assert [r for r in ran if r.startswith("1:")] == [f"1:pr{i}" for i in range(50)]


def test_installations_take_turns_and_urgency_still_comes_first(
        redis_conn: redis.Redis, redis_url: str) -> None:
    for i in range(4):
        _job(redis_conn, 1, f"a{i}")
    for i in range(2):
        _job(redis_conn, 2, f"b{i}")
    _job(redis_conn, 3, "c0", Urgency.LOW)
    _job(redis_conn, 1, "urgent", Urgency.URGENT)
    run_worker(redis_url, burst=True)
    assert _ran(redis_conn) == ["1:urgent", "1:a0", "2:b0", "1:a1", "2:b1", "1:a2", "1:a3",
                                "3:c0"]


def test_a_prs_follow_up_work_goes_before_newer_prs_of_its_installation(
        redis_conn: redis.Redis) -> None:
    for i in range(3):
        _job(redis_conn, 1, f"plan{i}")
    _job(redis_conn, 1, "generate0", at_front=True)
    SimpleWorker(queues(redis_conn), connection=redis_conn, queue_class=FairQueue).work(
        burst=True, logging_level="ERROR")
    assert _ran(redis_conn) == ["1:generate0", "1:plan0", "1:plan1", "1:plan2"]


def test_plain_rq_order_without_the_fair_worker(redis_conn: redis.Redis) -> None:
    """The order the fair worker changes: RQ's own worker runs the burst first."""
    for i in range(3):
        _job(redis_conn, 1, f"pr{i}")
    _job(redis_conn, 2, "pr0")
    SimpleWorker(queues(redis_conn), connection=redis_conn).work(burst=True,
                                                                  logging_level="ERROR")
    assert _ran(redis_conn)[-1] == "2:pr0"


def test_a_job_taken_by_a_worker_that_dies_before_starting_it_goes_back_on_its_queue(
        redis_conn: redis.Redis, redis_url: str) -> None:
    """The fair pop parks the job in its queue's intermediate list (as RQ's LMOVE does), the
    worker takes it out when it marks the job started; a worker killed in between leaves it
    there, and the reaper puts it back on its queue."""
    from app.maintenance import GRACE, reap

    _job(redis_conn, 1, "lost")
    queue = FairQueue(Urgency.DEFAULT.value, connection=redis_conn)
    found = FairQueue.dequeue_any(queues(redis_conn), None, connection=redis_conn)
    assert found is not None and found[0].id == "1-lost--note"  # taken, then "killed"
    assert redis_conn.llen(queue.key) == 0
    assert redis_conn.lrange(queue.intermediate_queue_key, 0, -1) == [b"1-lost--note"]
    now = time.time()
    reap(redis_conn, now)  # first sight: the worker may still be marking it started
    assert redis_conn.llen(queue.key) == 0
    assert reap(redis_conn, now + GRACE + 1) == 1
    assert redis_conn.lrange(queue.key, 0, -1) == [b"1-lost--note"]
    assert run_worker(redis_url, burst=True) == 0
    assert _ran(redis_conn) == ["1:lost"]
    assert redis_conn.llen(queue.intermediate_queue_key) == 0  # released when started
