"""Which waiting first looks a leader claims (jobs.first_look), against a real Redis."""

from __future__ import annotations

import redis
from rq.job import Job

from app.queue import Urgency
from jobs import first_look

URGENT = f"rq:queue:{Urgency.URGENT.value}"


def _job(conn: redis.Redis, job_id: str) -> Job:
    job = Job.create("jobs.planner.open_checks", id=job_id, connection=conn)
    job.worker_name = "w1"
    return job


def test_a_leader_claims_the_newest_unclaimed_first_looks_past_any_number_done(
        redis_conn: redis.Redis) -> None:
    ids = [f"d{i}{first_look.SUFFIX}" for i in range(100)]
    redis_conn.rpush(URGENT, *ids, "d-other--plan")
    leader, other = _job(redis_conn, ids[0]), _job(redis_conn, "x" + first_look.SUFFIX)
    for job_id in ids[30:]:  # the newest 70 are done by another leader
        first_look.mark_done(redis_conn, job_id, other)
    failed_here = {ids[29]}  # tried by this leader already: left to its own job
    got = first_look._candidates(redis_conn, leader, 4, failed_here)
    assert got == [ids[28], ids[27], ids[26], ids[25]]
    assert redis_conn.get(first_look.CLAIM.format(job=ids[28])) == b"%s|w1" % ids[0].encode()
    assert first_look._candidates(redis_conn, leader, 100, failed_here | set(got)) == \
        [ids[i] for i in range(24, 0, -1)]  # never its own, never a plan
    assert first_look._candidates(redis_conn, leader, 4, set()) == [ids[29]]
