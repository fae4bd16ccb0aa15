"""Forking vs non-forking RQ workers: time to drain N jobs, per job kind.

    .venv/bin/python bench/worker.py [--jobs 200]

`noop` shows the worker's own overhead per job; `config` parses a repo config (a typical
small job); both go through app.queue.enqueue with its callbacks, as real jobs do.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from rq import SimpleWorker, Worker  # noqa: E402

from app.embedded import EmbeddedRedis  # noqa: E402
from app.queue import JobSpec, enqueue, queues  # noqa: E402

CONFIG = """
generate: {mode: commit}
policies: {rules: {GHA002: audit}}
environments:
  production: {requires: [staging], soak_minutes: 30}
"""


def noop() -> int:
    return 1


def parse_config() -> bool:
    from app.config import parse_config as parse

    return not hasattr(parse(CONFIG), "problems")


def drain(conn: redis.Redis, cls: type[Worker], func: str, n: int) -> float:
    conn.flushdb()
    for i in range(n):
        enqueue(conn, f"bench-{i}", JobSpec("job", func))
    t0 = time.perf_counter()
    cls(queues(conn), connection=conn).work(burst=True, logging_level="ERROR")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=200)
    n = ap.parse_args().jobs
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp))
        conn = redis.Redis.from_url(server.start())
        print(f"worker benchmark: {n} jobs per run")
        for func in ("bench.worker.noop", "bench.worker.parse_config"):
            for cls in (Worker, SimpleWorker):
                secs = drain(conn, cls, func, n)
                print(f"{func.rsplit('.', 1)[1]:<13} {cls.__name__:<13} {secs:6.2f} s "
                      f"{n / secs:7.1f} jobs/s {secs / n * 1000:6.2f} ms/job")
        server.stop()


if __name__ == "__main__":
    main()
