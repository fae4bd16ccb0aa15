"""Per-PR timeline of the burst (bench/e2e.py --timeline): where a first check run's time goes.

For each PR-open delivery of the burst, in milliseconds after the release:
send    the emulator's hook thread starts sending it (harness: json.dumps, HMACs, httpx)
web     the web process enqueued its first look (the job's `enqueued_at`)
look    a worker starts its first look (its own job or a leader; bench._trace_worker)
post    the emulator received the first look's `POST .../check-runs`
landed  that POST was answered (the run exists)
seen    the bench's watcher saw the run (what `first check run` measures)
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import redis
from rq.job import Job

from bench._trace_worker import JOBS, TRACE

STAGES = ("send", "web", "look", "post", "landed", "seen")


def collect(stack: Any, wall0: float, perf0: float, owners: set[str]) -> list[dict[str, float]]:
    """One row per PR-open delivery of repos owned by `owners` (stage -> seconds since the
    release at `wall0` / `perf0`)."""
    emu, conn = stack.emu, stack.conn
    with emu.store.lock:
        deliveries = [(d.guid, d.payload["repository"]["full_name"], d.payload["pull_request"]
                       ["head"]["sha"], d.sent_at) for d in emu.store.deliveries
                      if d.event == "pull_request" and d.action == "opened"
                      and d.payload["repository"]["owner"]["login"] in owners]
        posts: dict[str, dict] = {}
        for r in emu.store.requests:
            if r["method"] == "POST" and r["path"].endswith("/check-runs"):
                full = r["path"].removeprefix("/repos/").removesuffix("/check-runs")
                posts.setdefault(full.lower(), r)
    looks: dict[str, float] = {}
    for raw in conn.lrange(TRACE, 0, -1):  # type: ignore[union-attr]
        guid, start, *_ = raw.decode().split()
        looks.setdefault(guid, float(start))
    rows = []
    for guid, full, head, sent in deliveries:
        job = _job(conn, guid)
        enq = job.enqueued_at.timestamp() if job is not None and job.enqueued_at else None
        post = posts.get(full.lower(), {})
        seen = stack.watcher.first.get((full, head))
        row = {"send": sent - wall0 if sent else None,
               "web": enq - wall0 if enq is not None else None,
               "look": looks[guid] - wall0 if guid in looks else None,
               "post": post["received"] - wall0 if post.get("received") else None,
               "landed": post["time"] - wall0 if post.get("time") else None,
               "seen": seen - perf0 if seen is not None else None}
        rows.append({k: v for k, v in row.items() if v is not None})
    return rows


def _job(conn: redis.Redis, guid: str) -> Job | None:
    from datetime import UTC

    try:
        job = Job.fetch(f"{guid}--open-checks", connection=conn)
    except Exception:  # noqa: BLE001 - expired or never made
        return None
    if job.enqueued_at is not None:
        job.enqueued_at = job.enqueued_at.replace(tzinfo=UTC)
    return job


def report(rows: list[dict[str, float]], stack: Any) -> None:
    def q(values: list[float], p: float) -> str:
        if not values:
            return "-"
        data = sorted(values)
        return f"{data[min(len(data) - 1, int(p / 100 * len(data)))] * 1000:.0f}"

    print(f"|   timeline of {len(rows)} PR-open deliveries, ms after the release "
          "(p10 / p50 / p90 / max), and each stage's own share (p50 / p90):")
    prev = None
    for stage in STAGES:
        at = [r[stage] for r in rows if stage in r]
        line = (f"|     {stage:<7} at {q(at, 10):>5} / {q(at, 50):>5} / {q(at, 90):>5} / "
                f"{q(at, 100):>5}")
        if prev is not None:
            own = [r[stage] - r[prev] for r in rows if stage in r and prev in r]
            line += f"   +{q(own, 50):>4} / +{q(own, 90):>4}"
        print(line)
        prev = stage
    trace = [raw.decode().split() for raw in stack.conn.lrange(TRACE, 0, -1)]
    by = Counter(f"pid {t[3]} {t[4].rsplit('_', 1)[0]}" for t in trace)
    took = [float(t[2]) - float(t[1]) for t in trace]
    if took:
        print(f"|     first looks: {len(trace)}, each took p50 "
              f"{statistics.median(took) * 1000:.0f} ms, max {max(took) * 1000:.0f} ms; by "
              + ", ".join(f"{k}: {v}" for k, v in sorted(by.items())))


def jobs_until(stack: Any, wall0: float, until: float) -> None:
    """What the workers' jobs that started before `until` (seconds after the release) were:
    count, wall and CPU ms by function."""
    by: dict[str, list[float]] = {}
    for raw in stack.conn.lrange(JOBS, 0, -1):
        func, start, end, _pid, cpu = raw.decode().split()
        if float(end) < wall0 or float(start) - wall0 > until:
            continue
        row = by.setdefault(func.rsplit(".", 1)[-1], [0, 0.0, 0.0])
        row[0] += 1
        row[1] += (min(float(end) - wall0, until) - max(float(start) - wall0, 0)) * 1000
        row[2] += float(cpu) * 1000
    print(f"|     jobs under way in the first {until * 1000:.0f} ms (count, wall ms in it, CPU "
          "ms of the whole job): " + ", ".join(
              f"{k} {n:.0f}/{w:.0f}/{c:.0f}" for k, (n, w, c) in
              sorted(by.items(), key=lambda kv: -kv[1][1])))


def dump(stack: Any, wall0: float) -> None:
    for raw in stack.conn.lrange(TRACE, 0, -1):
        guid, start, end, pid, thread = raw.decode().split()
        print(f"{guid[:8]} {(float(start) - wall0) * 1000:7.1f} {(float(end) - wall0) * 1000:7.1f}"
              f" {pid} {thread}")


class CpuSampler(threading.Thread):
    """CPU seconds used so far by each process (and each thread of this one, by name), every
    `every` seconds from the release: what the first looks' window cost whom."""

    def __init__(self, pids: dict[str, int], every: float = 0.05) -> None:
        super().__init__(daemon=True, name="bench-cpu")
        self.pids, self.every = pids, every
        self.samples: list[tuple[float, dict[str, float]]] = []
        self.stopped = threading.Event()
        self.tick = os.sysconf("SC_CLK_TCK")

    def _cpu(self, stat: Path) -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / self.tick

    def snapshot(self) -> dict[str, float]:
        out = {}
        for name, pid in self.pids.items():
            try:
                out[name] = self._cpu(Path(f"/proc/{pid}/stat"))
            except OSError:
                pass
        names = {t.native_id: t.name for t in threading.enumerate()}
        for task in Path("/proc/self/task").iterdir():
            try:
                comm = names.get(int(task.name), "other").rstrip("_0123456789")
                out[f"bench:{comm}"] = out.get(f"bench:{comm}", 0.0) + self._cpu(task / "stat")
            except OSError:
                pass
        return out

    def run(self) -> None:
        self.samples.append((time.perf_counter(), self.snapshot()))
        while not self.stopped.wait(self.every):
            self.samples.append((time.perf_counter(), self.snapshot()))

    def report(self, until: float) -> None:
        """CPU ms each used from the first sample to the first sample at or after `until`
        (perf_counter)."""
        if not self.samples:
            return
        t0, first = self.samples[0]
        t1, last = next(((t, s) for t, s in self.samples if t >= until), self.samples[-1])
        used = {k: (last.get(k, 0.0) - first.get(k, 0.0)) * 1000 for k in last}
        total = sum(v for k, v in used.items() if not k.startswith("bench:"))
        print(f"|     CPU ms in the first {1000 * (t1 - t0):.0f} ms (until the last first run "
              f"was seen), {total:.0f} ms in all: " + ", ".join(
                  f"{k} {v:.0f}" for k, v in sorted(used.items(), key=lambda kv: -kv[1])
                  if v >= 5))


def cpu_sampler(stack: Any) -> CpuSampler:
    """A started CpuSampler of every process of the stack (--timeline)."""
    pids = {"web": stack.web.pid, "bench": os.getpid()}
    pids.update({f"worker{i}": w.pid for i, w in enumerate(stack.workers)})
    sampler = CpuSampler(pids)
    sampler.start()
    return sampler


def spy(stack: Any) -> list[subprocess.Popen[bytes]]:
    """With BENCH_SPY=DIR: py-spy records the web, each worker and this process for 2 s from
    just before the release, as collapsed stacks in DIR (profiling, not measuring)."""
    out = os.environ.get("BENCH_SPY")
    if not out:
        return []
    procs = {"web": stack.web.pid, "bench": os.getpid()}
    procs.update({f"worker{i}": w.pid for i, w in enumerate(stack.workers)})
    which = os.environ.get("BENCH_SPY_ONLY", "").split(",")
    spies = [subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-r",
                               "400", "-d", "1", "--gil", "--nonblocking", "-f", "raw", "-t",
                               "-o", f"{out}/{name}.txt", "-p", str(pid)],
                              stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for name, pid in procs.items()
             if not which[0] or name in which]
    time.sleep(0.5)  # attached
    return spies
