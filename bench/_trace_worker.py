"""`shipcrew worker` with each first look timed (bench/e2e.py --timeline only).

    python -m bench._trace_worker worker

Wraps `jobs.planner._first_look` (looked up as a module global at each call, by its own job
and by a leader alike) to RPUSH `delivery id, start, end, pid, thread` onto `TRACE` in
Redis, and each RQ job's function, wall and CPU time onto `JOBS`; nothing else about the
worker changes.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

TRACE = "bench:first-look-trace"
JOBS = "bench:job-trace"  # every job: function, start, end, pid, its thread's CPU seconds


def install() -> None:
    import redis

    import jobs.planner as planner

    conn = redis.Redis.from_url(os.environ["REDIS_URL"])
    inner = planner._first_look

    def timed(kw: dict[str, Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
        start = time.time()
        try:
            return inner(kw, *args, **kwargs)
        finally:
            conn.rpush(TRACE, f"{kw['delivery_id']} {start} {time.time()} {os.getpid()} "
                              f"{threading.current_thread().name}")

    planner._first_look = timed  # type: ignore[assignment]

    from rq.job import Job

    perform = Job.perform

    def performed(job: Job) -> Any:
        start, cpu = time.time(), time.thread_time()
        try:
            return perform(job)
        finally:
            conn.rpush(JOBS, f"{job.func_name} {start} {time.time()} {os.getpid()} "
                             f"{time.thread_time() - cpu}")

    Job.perform = performed  # type: ignore[method-assign]


if __name__ == "__main__":
    install()
    from app.cli import main

    sys.argv[0] = "shipcrew"
    raise SystemExit(main())
