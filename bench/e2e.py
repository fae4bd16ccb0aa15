"""End to end under load: the App (web + 2 worker processes, real Redis) against the emulator.

    .venv/bin/python bench/e2e.py [--seq 10] [--burst 50] [--rss-jobs 1000]
                                  [--installations 60] [--latency-ms 0] [--slug]

Measures, on the default settings (no APP_SLUG unless --slug):
- first check run on the opened head after `pull_request.opened`, and `shipcrew / policy`
  completed on the PR's final head (after the crew's own commit), p50/p99, one PR at a time
  and for a burst of PRs whose deliveries are held and released at once;
- GitHub API calls by endpoint for a PR open, a README-only push and `/crew plan`;
- worker RSS over ~1,000 jobs spread over `--installations` new installations.
`--latency-ms 100` adds a round trip to every emulator API call (the emulator's fault).
Times are from the moment the webhook leaves the emulator (the control call / the release).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import redis  # noqa: E402
from rq.registry import FailedJobRegistry, FinishedJobRegistry, StartedJobRegistry  # noqa: E402

from app.embedded import EmbeddedRedis  # noqa: E402
from app.files import read_tree  # noqa: E402
from app.queue import queues  # noqa: E402
from bench import _timeline  # noqa: E402
from bench._memory import rss, worker_memory  # noqa: E402
from tests.emulator.fixture import Emulator  # noqa: E402

SAMPLE = read_tree(ROOT / "tests/jobs/repos/py-fastapi-uv")
POLICY = "shipcrew / policy"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load() -> str:
    return "load {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    data = sorted(values)
    return data[min(len(data) - 1, int(p / 100 * len(data)))]


class Watcher(threading.Thread):
    """Polls the emulator's state: when each head got its first check run, and when a
    completed `shipcrew / policy` run appeared on it."""

    def __init__(self, emu: Emulator, every: float = 0.01) -> None:
        super().__init__(daemon=True, name="bench-watcher")
        self.emu, self.every = emu, every
        self.first: dict[tuple[str, str], float] = {}
        self.policy: dict[tuple[str, str], float] = {}
        self.stopped = threading.Event()

    def run(self) -> None:
        store = self.emu.store
        scanned: dict[str, int] = {}
        waiting: list[tuple[str, dict]] = []  # policy runs not completed yet
        while not self.stopped.wait(self.every):
            now = time.perf_counter()
            with store.lock:
                for repo in list(store.repos.values()):
                    runs, start = repo.check_runs, scanned.get(repo.full_name, 0)
                    for run in runs[start:]:
                        self.first.setdefault((repo.full_name, run["head_sha"]), now)
                        if run["name"] == POLICY:
                            waiting.append((repo.full_name, run))
                    scanned[repo.full_name] = len(runs)
                still = []
                for full, run in waiting:
                    if run["status"] == "completed":
                        self.policy.setdefault((full, run["head_sha"]), now)
                    else:
                        still.append((full, run))
                waiting = still


class Stack:
    """Redis, the emulator (in this process), `shipcrew web` and two `shipcrew worker`s."""

    def __init__(self, tmp: Path, slug: bool, workers: int = 2, trace: bool = False) -> None:
        self.redis_server = EmbeddedRedis(tmp)
        self.redis_url = self.redis_server.start()
        self.conn = redis.Redis.from_url(self.redis_url)
        self.emu = Emulator().start()
        creds = self.emu.credentials
        env = {k: v for k, v in os.environ.items()
               if k not in {"APP_SLUG", "PRIVATE_KEY_PATH"}}
        env.update(APP_ID=str(creds["app_id"]), PRIVATE_KEY=creds["private_key_pem"],
                   WEBHOOK_SECRET=creds["webhook_secret"], GITHUB_API_URL=creds["api_url"],
                   REDIS_URL=self.redis_url, LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
        if slug:
            env["APP_SLUG"] = creds["app_slug"]
        port = _port()
        cli = [sys.executable, "-m", "app.cli"]
        out = subprocess.DEVNULL
        self.web = subprocess.Popen([*cli, "web", "--port", str(port)], env=env, cwd=ROOT,
                                    stdout=out, stderr=out)
        worker = [sys.executable, "-m", "bench._trace_worker"] if trace else cli
        self.workers = [subprocess.Popen([*worker, "worker"], env=env, cwd=ROOT, stdout=out,
                                         stderr=subprocess.DEVNULL) for _ in range(workers)]
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("shipcrew web did not start")
            time.sleep(0.1)
        self.emu.set_webhook_url(url + "/webhooks")
        self.watcher = Watcher(self.emu)
        self.watcher.start()
        self.released = (0.0, 0.0)  # time.time(), perf_counter() of the burst's release
        self.trace, self.cpu = trace, None

    def stop(self) -> None:
        self.watcher.stopped.set()
        for proc in [self.web, *self.workers]:
            proc.terminate()
        for proc in [self.web, *self.workers]:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.emu.stop()
        self.redis_server.stop()

    def busy(self) -> int:
        n = 0
        for q in queues(self.conn):
            n += q.count + StartedJobRegistry(queue=q).count + len(q.scheduled_job_registry)
        return n

    def quiet(self, timeout: float = 600) -> None:
        """Until every delivery landed and no job is queued, running or scheduled."""
        deadline = time.monotonic() + timeout
        calm = 0
        while calm < 3:
            self.emu.rt.hooks.drain()
            calm = calm + 1 if self.busy() == 0 else 0
            if time.monotonic() > deadline:
                raise RuntimeError("the App did not go quiet")
            time.sleep(0.05)

    def jobs_done(self) -> int:
        return sum(FinishedJobRegistry(queue=q).count + FailedJobRegistry(queue=q).count
                   for q in queues(self.conn))

    def rss_mb(self) -> list[float]:
        out = []
        for proc in self.workers:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            kb = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
            out.append(kb / 1024)
        return out

    def head(self, owner: str, name: str, number: int) -> str:
        return str(self.emu.state(owner, name)["pulls"][number - 1]["head_sha"])


def change(i: int) -> dict[str, str | None]:
    return {"app/main.py": f"# change {i}\n" + SAMPLE["app/main.py"]}


# --- measurements ----------------------------------------------------------------------------


def timings(stack: Stack, prs: list[tuple[str, str, str, float]]) -> tuple[list[float], ...]:
    """(first check run, policy on final head) in seconds, for PRs (owner, name, opened
    head, t0)."""
    w = stack.watcher
    time.sleep(0.05)  # let the watcher see the last state
    first, done = [], []
    for owner, name, opened, t0 in prs:
        full = f"{owner}/{name}"
        if (full, opened) in w.first:
            first.append(w.first[(full, opened)] - t0)
        final = stack.head(owner, name, 1)
        if (full, final) in w.policy:
            done.append(w.policy[(full, final)] - t0)
    return first, done


def sequential(stack: Stack, n: int) -> tuple[list[float], list[float]]:
    prs = []
    for i in range(n):
        owner, name = "seq", f"svc-{i}"
        stack.emu.create_repo(owner, name, SAMPLE)
        stack.quiet()
        t0 = time.perf_counter()
        pr = stack.emu.open_pull(owner, name, "feature", change(i), user="alice")
        stack.quiet()
        prs.append((owner, name, pr["head_sha"], t0))
    return timings(stack, prs)


def burst(stack: Stack, n: int) -> tuple[list[float], list[float], float, list[float]]:
    """`n` PRs of one installation and, opened last, one PR of another installation (fair
    share: it must not wait for the burst); all deliveries released at once."""
    for i in range(n):
        stack.emu.create_repo("burst", f"svc-{i}", SAMPLE)
    stack.emu.create_repo("other", "svc", SAMPLE)
    stack.quiet()
    stack.emu.control("POST", "/deliveries/hold")
    heads = [stack.emu.open_pull("burst", f"svc-{i}", "feature", change(i),
                                 user="alice")["head_sha"] for i in range(n)]
    other = stack.emu.open_pull("other", "svc", "feature", change(n), user="alice")["head_sha"]
    spies = _timeline.spy(stack)
    cpu = _timeline.cpu_sampler(stack) if stack.trace else None
    t0, wall = time.perf_counter(), time.time()
    stack.released = (wall, t0)
    stack.emu.control("POST", "/deliveries/release")
    stack.quiet()
    total = time.perf_counter() - t0
    for spy in spies:
        spy.wait()
    if cpu is not None:
        cpu.stopped.set()
        stack.cpu = cpu
    first, done = timings(stack, [("burst", f"svc-{i}", heads[i], t0) for i in range(n)])
    lone_first, lone_done = timings(stack, [("other", "svc", other, t0)])
    return first, done, total, lone_first + lone_done, accepted(stack, wall, n + 1)


def accepted(stack: Stack, since: float, n: int) -> float:
    """Seconds after `since` until the web process had enqueued the `n`th urgent job of the
    deliveries (one per PR-open delivery): the floor under any first check run."""
    urgent = queues(stack.conn)[0]
    stamps = sorted(t for t in (job.enqueued_at.replace(tzinfo=UTC).timestamp() - since
                                for job in urgent.job_class.fetch_many(
                                    FinishedJobRegistry(queue=urgent).get_job_ids(),
                                    connection=stack.conn) if job is not None and job.enqueued_at)
                    if t >= 0)
    return stamps[n - 1] if len(stamps) >= n else float("nan")


_SHA = re.compile(r"/[0-9a-f]{40}(?=/|$)")
_NUM = re.compile(r"/\d+(?=/|$)")


def endpoint(method: str, path: str, owner: str, name: str) -> str:
    path = re.sub(rf"^/repos/{owner}/{name}(?=/|$)", "/repos/{o}/{r}", path)
    path = _NUM.sub("/{n}", _SHA.sub("/{sha}", path))
    path = re.sub(r"/contents/.*", "/contents/{path}", path)
    return f"{method} {path}"


def calls(stack: Stack, action: object) -> tuple[Counter[str], int]:
    """API calls the App makes for one action (until it is quiet), by endpoint, and how
    many reads (GETs, token requests) repeat an identical earlier one."""
    stack.quiet()
    stack.emu.clear_requests()
    action()  # type: ignore[operator]
    stack.quiet()
    reqs = stack.emu.requests()
    exact = Counter((r["method"], r["path"], r["query"]) for r in reqs
                    if r["method"] == "GET" or r["path"].endswith("/access_tokens"))
    repeated = sum(c - 1 for c in exact.values() if c > 1)
    by = Counter(endpoint(r["method"], r["path"], "flow", "svc") for r in reqs)
    return by, repeated


def flows(stack: Stack) -> dict[str, tuple[Counter[str], int]]:
    emu = stack.emu
    emu.create_repo("flow", "svc", SAMPLE)
    emu.control("POST", "/repos/flow/svc/collaborators", {"user": "alice",
                                                          "permission": "write"})
    out = {"PR open": calls(stack, lambda: emu.open_pull("flow", "svc", "feature", change(0),
                                                         user="alice"))}
    out["README-only push"] = calls(stack, lambda: emu.push(
        "flow", "svc", 1, {"README.md": "# svc\n\nMore words.\n"}, user="alice"))
    out["/crew plan"] = calls(stack, lambda: emu.comment("flow", "svc", 1, "/crew plan",
                                                         "alice", "write"))
    return out


# --- report ------------------------------------------------------------------------------------


def row(label: str, value: str, goal: str = "") -> None:
    print(f"| {label:<58} | {goal:<14} | {value:<40} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seq", type=int, default=10)
    ap.add_argument("--burst", type=int, default=50)
    ap.add_argument("--rss-jobs", type=int, default=1000)
    ap.add_argument("--installations", type=int, default=60)
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--slug", action="store_true", help="set APP_SLUG (not the default)")
    ap.add_argument("--skip", nargs="*", default=[], choices=["calls", "seq", "burst", "rss"])
    ap.add_argument("--timeline", action="store_true",
                    help="time each first look (bench._trace_worker) and print the burst's "
                         "per-PR timeline (bench._timeline)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp), args.slug, trace=args.timeline)
        try:
            run(stack, args)
        finally:
            stack.stop()


def ms(values: list[float]) -> str:
    return f"{pct(values, 50) * 1000:.0f} ms / {pct(values, 99) * 1000:.0f} ms (n={len(values)})"


def run(stack: Stack, args: argparse.Namespace) -> None:
    if args.latency_ms:
        stack.emu.faults(latency_ms=args.latency_ms)
    print(f"bench/e2e.py: web + {len(stack.workers)} workers, latency {args.latency_ms} ms, "
          f"APP_SLUG {'set' if args.slug else 'unset'}; {load()}")
    print(f"| {'measure':<58} | {'goal':<14} | {'value':<40} |")
    print(f"|{'-' * 60}|{'-' * 16}|{'-' * 42}|")
    if "calls" not in args.skip:
        for flow, (by, repeated) in flows(stack).items():
            row(f"GitHub API calls: {flow}", f"{sum(by.values())} calls, {repeated} repeated",
                "<= 12, 0 rep" if flow == "PR open" else "")
            for ep, n in sorted(by.items(), key=lambda kv: (-kv[1], kv[0])):
                row(f"    {ep}", str(n))
    if "seq" not in args.skip:
        first, done = sequential(stack, args.seq)
        row("first check run, one PR at a time, p50 / p99", ms(first), "")
        row("policy done on final head, one at a time, p50 / p99", ms(done), "")
        print(f"|   ({load()})")
    if "burst" not in args.skip:
        first, done, total, lone, intake = burst(stack, args.burst)
        row(f"all {args.burst + 1} deliveries enqueued by the web process after",
            f"{intake * 1000:.0f} ms")
        row(f"first check run, {args.burst} PRs at once, p50 / p99", ms(first),
            "< 300 / < 1000")
        row(f"policy done on final head, {args.burst} at once, p50 / p99", ms(done))
        row("burst drained in", f"{total:.1f} s")
        row("another installation's PR in the burst: first run / policy",
            " / ".join(f"{x * 1000:.0f} ms" for x in lone) if len(lone) == 2 else "missing")
        print(f"|   ({load()})")
        if args.timeline:
            rows = _timeline.collect(stack, *stack.released, {"burst", "other"})
            _timeline.report(rows, stack)
            last = max(r.get("seen", 0) for r in rows)
            if stack.cpu is not None:
                stack.cpu.report(stack.released[1] + last)
            _timeline.jobs_until(stack, stack.released[0], last)
            if os.environ.get("BENCH_TRACE_DUMP"):
                _timeline.dump(stack, stack.released[0])
    if "rss" not in args.skip:
        r = rss(stack, args.installations, args.rss_jobs, SAMPLE, change)
        row(f"worker RSS: before / after {args.installations} new installations",
            f"{r['before']:.0f} MB / {r['first_pass']:.0f} MB", "< 150 MB")
        row("worker RSS: per new installation", f"{r['per_installation']:+.2f} MB", "flat")
        row(f"worker RSS: final / max after {r['jobs']:.0f} jobs",
            f"{r['final']:.0f} MB / {r['max']:.0f} MB ({r['after_warm_growth']:+.0f} MB)",
            "< 150 MB flat")
        row("worker RSS/PSS now, each worker (and its children)", worker_memory(stack))
        print(f"|   ({load()})")


if __name__ == "__main__":
    main()
