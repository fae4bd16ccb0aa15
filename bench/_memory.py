"""Worker memory for bench/e2e.py: RSS over many jobs and installations, RSS/PSS now."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def rss(stack: Any, installations: int, target: int, sample: dict[str, str],
        change: Callable[[int], dict[str, str | None]]) -> dict[str, float]:
    """Worker RSS before, after one PR on each of `installations` new installations, and
    after pushes to those PRs until `target` jobs ran in this phase."""
    emu = stack.emu
    base_jobs = stack.jobs_done()
    before = max(stack.rss_mb())
    for i in range(installations):
        emu.create_repo(f"tenant-{i}", "svc", sample)
    for i in range(installations):
        emu.open_pull(f"tenant-{i}", "svc", "feature", change(i), user="alice")
    stack.quiet()
    first_pass = max(stack.rss_mb())
    rounds = 0
    samples = [first_pass]
    while stack.jobs_done() - base_jobs < target and rounds < 20:
        rounds += 1
        for i in range(installations):
            emu.push(f"tenant-{i}", "svc", 1, {"app/main.py": f"# round {rounds}\n"
                                               + sample["app/main.py"]}, user="alice")
        stack.quiet()
        samples.append(max(stack.rss_mb()))
    return {"before": before, "first_pass": first_pass, "final": samples[-1],
            "max": max(samples), "jobs": stack.jobs_done() - base_jobs,
            "per_installation": (first_pass - before) / installations,
            "after_warm_growth": samples[-1] - first_pass}


def worker_memory(stack: Any) -> str:
    """RSS / PSS (MB) of each worker process and of its children at this moment (a work horse
    with `--fork`, a Helm child): PSS counts a page shared by N processes as 1/N, so pages
    shared by both workers (or a horse and its worker) are not counted twice."""
    from bench.worker import memory_of

    def mem(pid: int) -> str:
        try:
            m = memory_of(pid)
        except OSError:
            return "gone"
        return f"{m['rss']:.0f}/{m['pss']:.0f}"

    out = []
    for proc in stack.workers:
        kids = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        out.append(mem(proc.pid) + "".join(f" +child {mem(int(k))}" for k in kids))
    return "; ".join(out)
