"""Worker processes: RQ workers listening to the queues in urgency order."""

from __future__ import annotations

from rq import SimpleWorker, Worker

from app.main import redis_from_url
from app.queue import QUEUE_ORDER, queues

# Measured with bench/worker.py (see README): a fork per job costs more than the jobs' own
# work for short jobs, so the default is the non-forking worker. --fork isolates each job.
DEFAULT_FORK = False


def run_worker(redis_url: str, names: list[str] | None = None, *, burst: bool = False,
               fork: bool | None = None) -> int:
    conn = redis_from_url(redis_url)
    selected = queues(conn) if not names else [
        q for q in queues(conn) if q.name in names or q.name.removeprefix("shipcrew-") in names
    ]
    if not selected:
        known = ", ".join(q.value for q in QUEUE_ORDER)
        raise SystemExit(f"shipcrew worker: no such queue in {names}; known: {known}")
    cls = Worker if (DEFAULT_FORK if fork is None else fork) else SimpleWorker
    worker = cls(selected, connection=conn)
    # The scheduler runs jobs enqueued for later (retries with backoff, gate re-checks).
    worker.work(burst=burst, with_scheduler=True, logging_level="WARNING")
    return 0
