"""Forking vs non-forking RQ workers: time to drain N jobs, per job kind, and memory.

    .venv/bin/python bench/worker.py [--jobs 200] [--memory-jobs 20]

`noop` shows the worker's own overhead per job; `config` parses a repo config (a typical
small job); both go through app.queue.enqueue with its callbacks, as real jobs do.
Memory: `--memory-jobs` audits of a generated service (Rego, Helm, YAML); the last one reads
RSS and PSS (/proc/PID/smaps_rollup: shared pages counted once across processes) of the
process it ran in and of its parent: with the forking worker, the work horse and the
worker; with the non-forking one (the default), the worker itself.
"""

from __future__ import annotations

import argparse
import os
import re
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


def audit_service() -> dict[str, dict[str, float]]:
    """Audit a generated service, then say how large this process and its parent are."""
    from app.files import read_tree
    from jobs.auditor.core import audit_files

    audit_files(read_tree(ROOT / "tests/jobs/golden/py-fastapi-uv"))
    return {"self": memory_of(os.getpid()), "parent": memory_of(os.getppid())}


def memory_of(pid: int) -> dict[str, float]:
    """RSS and PSS in MB (PSS shares each shared page among the processes that map it)."""
    text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    return {k.lower(): int(re.search(rf"^{k}:\s+(\d+)", text, re.M).group(1)) / 1024  # type: ignore[union-attr]
            for k in ("Rss", "Pss")}


def memory(conn: redis.Redis, cls: type[Worker] | type[SimpleWorker],
           n: int) -> dict[str, dict[str, float]]:
    conn.flushdb()
    for i in range(n):
        job = enqueue(conn, f"audit-{i}", JobSpec("job", "bench.worker.audit_service"))
    t0 = time.perf_counter()
    cls(queues(conn), connection=conn).work(burst=True, logging_level="ERROR")
    print(f"  {cls.__name__}: {(time.perf_counter() - t0) / n * 1000:.0f} ms per audit job")
    from rq.job import Job

    result = Job.fetch(job, connection=conn).return_value()
    assert isinstance(result, dict), "the audit job failed"
    return result


def drain(conn: redis.Redis, cls: type[Worker] | type[SimpleWorker], func: str, n: int) -> float:
    conn.flushdb()
    for i in range(n):
        enqueue(conn, f"bench-{i}", JobSpec("job", func))
    t0 = time.perf_counter()
    cls(queues(conn), connection=conn).work(burst=True, logging_level="ERROR")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--memory-jobs", type=int, default=20)
    args = ap.parse_args()
    n = args.jobs
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp))
        conn = redis.Redis.from_url(server.start())
        print(f"worker benchmark: {n} jobs per run")
        for func in ("bench.worker.noop", "bench.worker.parse_config"):
            for cls in (Worker, SimpleWorker):
                secs = drain(conn, cls, func, n)
                print(f"{func.rsplit('.', 1)[1]:<13} {cls.__name__:<13} {secs:6.2f} s "
                      f"{n / secs:7.1f} jobs/s {secs / n * 1000:6.2f} ms/job")
        print(f"memory at the end of audit {args.memory_jobs} (MB); load "
              "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        # The forking worker first: this process is its parent and never runs a job itself
        # (then again once the job modules are preloaded, as `shipcrew worker --fork` does);
        # then the non-forking one runs the jobs here, as a `shipcrew worker` does.
        m = memory(conn, Worker, args.memory_jobs)
        print(f"Worker        work horse RSS {m['self']['rss']:6.1f} PSS {m['self']['pss']:6.1f}"
              f" | worker RSS {m['parent']['rss']:6.1f} PSS {m['parent']['pss']:6.1f}")
        from app.worker import preload  # not before: its imports would preload the above

        preload()
        m = memory(conn, Worker, args.memory_jobs)
        print(f"Worker+preload horse     RSS {m['self']['rss']:6.1f} PSS {m['self']['pss']:6.1f}"
              f" | worker RSS {m['parent']['rss']:6.1f} PSS {m['parent']['pss']:6.1f}")
        m = memory(conn, SimpleWorker, args.memory_jobs)
        print(f"SimpleWorker  worker     RSS {m['self']['rss']:6.1f} PSS {m['self']['pss']:6.1f}")
        secs = drain(conn, Worker, "bench.worker.parse_config", n)
        print(f"{'parse_config':<13} {'Worker+preload':<13} {secs:6.2f} s {n / secs:7.1f} jobs/s "
              f"{secs / n * 1000:6.2f} ms/job")
        server.stop()


if __name__ == "__main__":
    main()
