"""Jobs through real RQ workers: ids, retries for transient errors only, failure records."""

from __future__ import annotations

import time
from typing import Any

import httpx
import redis
from rq import Queue, SimpleWorker
from rq.registry import ScheduledJobRegistry

from app.audit import AuditTrail
from app.metrics import render
from app.queue import JobSpec, Urgency, enqueue, is_transient, job_id_for, queues


def broken_input() -> None:
    raise ValueError("the payload makes no sense")


def network_down() -> None:
    raise httpx.ConnectError("connection refused")


def fine() -> str:
    return "ok"


def run(conn: redis.Redis) -> None:
    SimpleWorker(queues(conn), connection=conn).work(burst=True, logging_level="ERROR")


def test_job_ids_are_safe_and_deterministic() -> None:
    assert job_id_for("72d3162e-cc78-11e3-81ab-4c9367dc0958", "plan") == \
        "72d3162e-cc78-11e3-81ab-4c9367dc0958--plan"
    assert job_id_for("a:b/c", "x") == "a_b_c--x"


def test_permanent_failure_is_recorded_once_and_not_retried(redis_conn: redis.Redis) -> None:
    job_id = enqueue(redis_conn, "d1", JobSpec("bad", "tests.app.test_queue.broken_input"))
    run(redis_conn)
    [entry] = AuditTrail(redis_conn).entries(kind="job_failed")
    assert (entry["job"], entry["final"]) == (job_id, True)
    assert "ValueError: the payload makes no sense" in entry["error"]
    assert ScheduledJobRegistry(queue=Queue("shipcrew-default", connection=redis_conn)).count == 0
    assert ('shipcrew_job_failures_total{job="tests.app.test_queue.broken_input",'
            'outcome="failed"} 1') in render(redis_conn)


def test_transient_failure_is_retried_later(redis_conn: redis.Redis) -> None:
    enqueue(redis_conn, "d2", JobSpec("net", "tests.app.test_queue.network_down", {},
                                      Urgency.URGENT))
    run(redis_conn)
    [entry] = AuditTrail(redis_conn).entries(kind="job_failed")
    assert entry["final"] is False
    scheduled = ScheduledJobRegistry(queue=Queue("shipcrew-urgent", connection=redis_conn))
    assert scheduled.get_job_ids() == ["d2--net"]


def test_success_is_measured(redis_conn: redis.Redis) -> None:
    enqueue(redis_conn, "d3", JobSpec("ok", "tests.app.test_queue.fine"))
    run(redis_conn)
    text = render(redis_conn)
    assert ('shipcrew_job_duration_seconds_count{job="tests.app.test_queue.fine",'
            'outcome="succeeded"} 1') in text


def test_what_counts_as_transient() -> None:
    assert is_transient(httpx.ReadTimeout("slow"))
    assert is_transient(redis.ConnectionError())
    assert not is_transient(ValueError())
    assert not is_transient(KeyError("x"))


def _answer(status: int, headers: dict[str, str] | None = None, text: str = "") -> httpx.Response:
    return httpx.Response(status, headers=headers, text=text,
                          request=httpx.Request("POST", "https://api.github.com/x"))


def test_token_requests_and_rate_limits_are_transient() -> None:
    from githubkit.exception import RequestError
    from rq.exceptions import AbandonedJobError

    def token_failure(resp: httpx.Response) -> RequestError:  # how githubkit reports it
        return RequestError(httpx.HTTPStatusError("x", request=resp.request, response=resp))

    assert is_transient(AbandonedJobError())
    assert is_transient(token_failure(_answer(502)))
    assert is_transient(token_failure(_answer(403, {"x-ratelimit-remaining": "0"})))
    assert is_transient(token_failure(_answer(403, {"retry-after": "30"})))
    assert is_transient(token_failure(_answer(403, text='{"message": "secondary rate limit"}')))
    assert not is_transient(token_failure(_answer(403, text='{"message": "Forbidden"}')))
    assert not is_transient(token_failure(_answer(404)))
    assert is_transient(RequestError(httpx.ConnectError("refused")))
    # what a failed installation-token request raises: GitHub's answer inside RequestError
    from githubkit.exception import RequestFailed
    from githubkit.response import Response

    assert is_transient(RequestError(RequestFailed(Response(_answer(502), Any))))
    assert not is_transient(RequestError(RequestFailed(Response(_answer(401), Any))))
    assert not is_transient(ValueError("bad"))


def test_github_says_how_long_to_wait() -> None:
    from githubkit.exception import RequestError

    from app.queue import MAX_BACKOFF, backoff_hint

    def err(resp: httpx.Response) -> RequestError:
        return RequestError(httpx.HTTPStatusError("x", request=resp.request, response=resp))

    assert backoff_hint(err(_answer(403, {"retry-after": "42"})), 0) == 42
    reset = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1010"}
    assert backoff_hint(err(_answer(403, reset)), 1000) == 10
    assert backoff_hint(err(_answer(403, {**reset, "x-ratelimit-reset": "99999"})), 0) == \
        MAX_BACKOFF
    assert backoff_hint(err(_answer(502)), 0) is None


def rate_limited_once() -> str:
    from rq import get_current_job

    job = get_current_job()
    assert job is not None
    if job.connection.incr("rl-tries") == 1:
        resp = _answer(403, {"retry-after": "20"})
        raise httpx.HTTPStatusError("limited", request=resp.request, response=resp)
    return "ok"


def test_a_retry_waits_as_long_as_github_asked(redis_conn: redis.Redis) -> None:
    enqueue(redis_conn, "d-rl", JobSpec("rl", "tests.app.test_queue.rate_limited_once"))
    before = time.time()
    run(redis_conn)
    scheduled = ScheduledJobRegistry(queue=Queue("shipcrew-default", connection=redis_conn))
    [(job_id, at)] = redis_conn.zrange(scheduled.key, 0, -1, withscores=True)
    assert job_id == b"d-rl--rl"
    assert at >= before + 20  # not the default 5 s
