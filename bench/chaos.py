"""Chaos run: does the crew lose or repeat work when its parts fail?

    python -m bench.chaos [--seed N] [--faults all|kills|redis|github|none] [--seconds 150]
                          [--repos 20] [--events 150] [--settle 180] [--break double-verdict]

Runs the real App as production does - one `shipcrew web`, three `shipcrew worker`, a
`redis-server --appendonly yes` on its own port and directory, the GitHub emulator - and
drives ~150 PR opens, pushes and `/crew why` comments over ~150 s across ~20 repositories
while it SIGKILLs a random worker every 4-8 s (a process manager starts another), restarts
Redis twice, and makes GitHub answer 10 % of calls with a 5xx plus a 10 s window of 403 rate
limits. Then it waits up to `--settle` seconds and prints `lost / duplicated / stuck of
expected`, counted from the emulator's state (bench/_chaos_count.py).

`--break double-verdict` runs workers that publish every policy verdict twice: the count must
show them as duplicated (it can fail).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import redis

from app.files import read_tree
from bench._chaos_count import Ask, Pr, Tally, count

ROOT = Path(__file__).resolve().parent.parent
SERVICE = read_tree(ROOT / "tests" / "jobs" / "repos" / "py-fastapi-uv")
KINDS = {"none": set(), "kills": {"kills"}, "redis": {"redis"}, "github": {"github"},
         "all": {"kills", "redis", "github"}}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001, S110 - not up yet
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not come up")


class Stack:
    """The processes, each restartable."""

    def __init__(self, workdir: Path, broken: str | None, workers: int = 3) -> None:
        self.dir = workdir
        self.broken = broken
        self.redis_port, self.emu_port, self.web_port = free_port(), free_port(), free_port()
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.emu_url = f"http://127.0.0.1:{self.emu_port}"
        self.logs = open(workdir / "processes.log", "ab")  # noqa: SIM115 - lives with the stack
        self.redis: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes] | None] = [None] * workers
        self.others: list[subprocess.Popen[bytes]] = []
        self.env: dict[str, str] = {}

    def _spawn(self, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        return subprocess.Popen(args, cwd=ROOT, env=env or dict(os.environ), stdout=self.logs,
                                stderr=subprocess.STDOUT)

    def start_redis(self) -> None:
        self.redis = self._spawn(["redis-server", "--port", str(self.redis_port), "--dir",
                                  str(self.dir), "--appendonly", "yes", "--save", "",
                                  "--bind", "127.0.0.1"])
        wait_for(lambda: redis.Redis.from_url(self.redis_url).ping(), "redis-server")

    def stop_redis(self) -> None:
        assert self.redis is not None
        self.redis.terminate()  # SIGTERM: Redis flushes its append-only file and exits
        self.redis.wait(timeout=30)

    def start(self) -> None:
        self.start_redis()
        creds = self.dir / "credentials.json"
        web = f"http://127.0.0.1:{self.web_port}/webhooks"
        self.others.append(self._spawn([sys.executable, "-m", "tests.emulator", "--port",
                                        str(self.emu_port), "--webhook-url", web,
                                        "--credentials", str(creds)]))
        wait_for(lambda: creds.exists() and creds.stat().st_size > 0, "emulator")
        wait_for(lambda: httpx.get(self.emu_url + "/_emulator/deliveries").is_success,
                 "emulator")
        c = json.loads(creds.read_text())
        self.bot = f"{c['app_slug']}[bot]"
        self.env = {**os.environ, "APP_ID": str(c["app_id"]), "PRIVATE_KEY": c["private_key_pem"],
                    "WEBHOOK_SECRET": c["webhook_secret"], "GITHUB_API_URL": c["api_url"],
                    "APP_SLUG": c["app_slug"], "REDIS_URL": self.redis_url,
                    "LOG_LEVEL": "WARNING", "DELIVERY_RECOVERY_INTERVAL": "5"}
        self.env.pop("PRIVATE_KEY_PATH", None)
        self.others.append(self._spawn([sys.executable, "-m", "app.cli", "web", "--port",
                                        str(self.web_port)], self.env))
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{self.web_port}/healthz").is_success,
                 "shipcrew web")
        for i in range(len(self.workers)):
            self.start_worker(i)

    def start_worker(self, i: int) -> None:
        module = "bench._broken_worker" if self.broken else "app.cli"
        self.workers[i] = self._spawn([sys.executable, "-m", module, "worker"],
                                      {**self.env, "CHAOS_BREAK": self.broken or ""})

    def kill_worker(self, rng: random.Random) -> None:
        i = rng.randrange(len(self.workers))
        proc = self.workers[i]
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()

    def revive_workers(self) -> None:
        """What a process manager does: start a worker for each that died."""
        for i, proc in enumerate(self.workers):
            if proc is None or proc.poll() is not None:
                self.start_worker(i)

    def stop(self) -> None:
        """Workers and web first, Redis last (so nothing logs a lost connection)."""
        for group in ([*self.workers, *self.others], [self.redis]):
            procs = [p for p in group if p is not None and p.poll() is None]
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        self.logs.close()


class Driver:
    def __init__(self, stack: Stack, rng: random.Random) -> None:
        self.stack = stack
        self.rng = rng
        self.http = httpx.Client(base_url=stack.emu_url + "/_emulator", timeout=120)
        self.prs: list[Pr] = []
        self.asks: list[Ask] = []

    def control(self, method: str, path: str, body: Any = None) -> Any:
        resp = self.http.request(method, path, json=body)
        resp.raise_for_status()
        return resp.json()

    def open(self, i: int) -> None:
        repo = f"chaos/svc-{i:02d}"
        self.control("POST", "/repos", {"owner": "chaos", "name": f"svc-{i:02d}",
                                        "files": {"README.md": f"# svc {i}\n"}})
        pr = self.control("POST", f"/repos/{repo}/pulls", {
            "head": "feature", "files": SERVICE, "title": "Add the service", "user": "alice"})
        self.prs.append(Pr(repo, int(pr["number"])))

    def push(self, n: int) -> None:
        pr = self.rng.choice(self.prs)
        self.control("POST", f"/repos/{pr.repo}/pulls/{pr.number}/push", {
            "files": {"app/main.py": SERVICE["app/main.py"] + f"\n# change {n}\n"},
            "user": "alice"})

    def ask(self, n: int) -> None:
        pr = self.rng.choice(self.prs)
        token = f"chaos-{n:03d}"
        made = self.control("POST", f"/repos/{pr.repo}/issues/{pr.number}/comments",
                            {"body": f"/crew why {token}", "user": "alice",
                             "permission": "write"})
        self.asks.append(Ask(pr.repo, pr.number, int(made["id"]), token))

    def run(self, repos: int, events: int, seconds: float) -> None:
        """Opens in the first tenth of the time, then pushes and comments at random."""
        t0 = time.monotonic()
        rest = events - repos
        plan = [("open", t0 + seconds * 0.1 * i / repos, i) for i in range(repos)]
        plan += sorted((self.rng.choice(["push", "ask"]), t0 + self.rng.uniform(
            seconds * 0.1, seconds), n) for n in range(rest))
        plan.sort(key=lambda e: e[1])
        for kind, due, n in plan:
            time.sleep(max(0.0, due - time.monotonic()))
            getattr(self, kind)(n)

    def tally(self) -> Tally:
        states = {repo: self.control("GET", f"/repos/{repo}/state")
                  for repo in {pr.repo for pr in self.prs}}
        return count(self.prs, self.asks, states, self.stack.bot)


def chaos(stack: Stack, rng: random.Random, kinds: set[str], seconds: float,
          stop: threading.Event, log: list[str]) -> None:
    t0 = time.monotonic()
    log.append(f"start {time.time():.3f}")
    emu = httpx.Client(base_url=stack.emu_url + "/_emulator", timeout=120)
    seed = rng.randrange(1 << 30)
    if "github" in kinds:
        emu.post("/faults", json={"error_rate": 0.1, "seed": seed})
    next_kill = t0 + rng.uniform(4, 8)
    redis_at = [t0 + seconds * 0.35, t0 + seconds * 0.75] if "redis" in kinds else []
    limit_at = t0 + seconds * 0.55 if "github" in kinds else None
    while not stop.is_set() and time.monotonic() - t0 < seconds:
        now = time.monotonic()
        if "kills" in kinds and now >= next_kill:
            stack.kill_worker(rng)
            log.append(f"{now - t0:6.1f}s SIGKILL a worker")
            next_kill = now + rng.uniform(4, 8)
        if redis_at and now >= redis_at[0]:
            redis_at.pop(0)
            stack.stop_redis()
            log.append(f"{now - t0:6.1f}s redis stopped")
            time.sleep(rng.uniform(2, 4))
            stack.start_redis()
            log.append(f"{time.monotonic() - t0:6.1f}s redis started")
        if limit_at is not None and now >= limit_at:
            limit_at = None
            emu.post("/faults", json={"error_rate": 0.1, "rate_limit_after": 0,
                                      "rate_limit_reset_in": 10, "seed": seed})
            log.append(f"{now - t0:6.1f}s 403 rate limits for 10 s")
            time.sleep(10)
            emu.post("/faults", json={"error_rate": 0.1, "seed": seed + 1})
        stack.revive_workers()
        time.sleep(0.5)
    emu.post("/faults", json={})
    emu.close()
    stack.revive_workers()


def settle(driver: Driver, stack: Stack, seconds: float) -> tuple[Tally, float]:
    conn = redis.Redis.from_url(stack.redis_url)
    t0 = time.monotonic()
    while True:
        tally = driver.tally()
        queued = sum(int(conn.llen(f"rq:queue:shipcrew-{q}")) for q in ("urgent", "default", "low"))
        waited = time.monotonic() - t0
        if (not tally.lost and not tally.stuck and not queued) or waited > seconds:
            conn.close()
            return tally, waited
        stack.revive_workers()
        time.sleep(5)


def dump(driver: Driver, workdir: Path, log: list[str]) -> None:
    """The emulator's state, requests and deliveries as JSON next to Redis's append-only file,
    and what the chaos did when (time.time() of the start first)."""
    repos = sorted({pr.repo for pr in driver.prs})
    found = {"states": {r: driver.control("GET", f"/repos/{r}/state") for r in repos},
             "requests": driver.control("GET", "/requests"),
             "deliveries": driver.control("GET", "/deliveries")}
    (workdir / "emulator.json").write_text(json.dumps(found))
    (workdir / "chaos.log").write_text("\n".join(log) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--faults", choices=sorted(KINDS), default="all")
    p.add_argument("--seconds", type=float, default=150)
    p.add_argument("--repos", type=int, default=20)
    p.add_argument("--events", type=int, default=150)
    p.add_argument("--settle", type=float, default=180)
    p.add_argument("--break", dest="broken", choices=["double-verdict"], default=None)
    p.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = p.parse_args(argv)
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="shipcrew-chaos-"))
    stack = Stack(workdir, args.broken)
    log: list[str] = []
    try:
        stack.start()
        driver = Driver(stack, rng)
        stop = threading.Event()
        monkey = threading.Thread(target=chaos, args=(stack, random.Random(args.seed + 7),
                                                      KINDS[args.faults], args.seconds, stop, log))
        monkey.start()
        try:
            driver.run(args.repos, args.events, args.seconds)
        finally:
            monkey.join()
        tally, waited = settle(driver, stack, args.settle)
        if args.keep:
            dump(driver, workdir, log)
        driver.http.close()
    finally:
        stack.stop()
    kills = sum("SIGKILL" in line for line in log)
    print(f"chaos seed={args.seed} faults={args.faults} events={args.events} "
          f"repos={args.repos} seconds={args.seconds:g} kills={kills}"
          f"{' break=' + args.broken if args.broken else ''}")
    print(f"{tally.line()} (settled in {waited:.0f} s)")
    for note in tally.notes:
        print("  " + note)
    if args.keep:
        print(f"logs: {workdir}")
    return 0 if not (tally.lost or tally.duplicated or tally.stuck) else 1


if __name__ == "__main__":
    raise SystemExit(main())
