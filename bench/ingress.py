"""Ingress benchmark: `shipcrew web` against a bare Starlette endpoint that checks the HMAC and
RPUSHes the body, on the same signed 22 KB pull_request.opened, the same Redis, the same
uvicorn, in one alternating run (bare, shipcrew, bare, shipcrew, ...) so that noise from
other processes on the machine falls on both.

    .venv/bin/python bench/ingress.py [--rounds 3] [--seconds 5] [--connections 4,32]
    .venv/bin/python bench/ingress.py --inprocess [--rounds 5] [--requests 2000]

`--inprocess` calls both ASGI apps in this process and prints CPU us per request
(bench/_inprocess.py): the steady figure when the machine is shared.

Uses wrk (`apt-get install wrk`: a C load generator, so the client does not measure itself)
when it is on PATH, else the Python load generator in bench/_load.py (flat out only).
Every request carries a fresh X-GitHub-Delivery, so shipcrew enqueues a plan job each time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.embedded import EmbeddedRedis  # noqa: E402
from app.webhooks import sign  # noqa: E402
from bench._load import flat_out  # noqa: E402

SECRET = "bench-secret"
PAYLOAD = json.loads((ROOT / "tests/fixtures/webhooks/pull_request/opened-2.json").read_text())
BODY = json.dumps(PAYLOAD, separators=(",", ":")).encode()
# Both servers: one uvicorn process each, uvloop + httptools, the same concurrency limit and
# keep-alive (shipcrew's come from app.server, where its httptools protocol adds header limits).
UVICORN = "1 worker, loop=uvloop, http=httptools, limit_concurrency=512, keep-alive 5 s"
SERVERS = {
    "bare HMAC+RPUSH": [sys.executable, "-m", "uvicorn", "bench.bare_endpoint:app",
                        "--no-access-log", "--log-level", "warning", "--workers", "1",
                        "--loop", "uvloop", "--http", "httptools", "--limit-concurrency", "512",
                        "--timeout-keep-alive", "5"],
    "shipcrew web": [sys.executable, "-m", "app.cli", "web"],
}
# wrk's Lua: one signed body, a unique delivery id per request (thread id + counter).
WRK_SCRIPT = """
local counter = 0
local prefix = tostring(math.random(1, 1e9))
function setup(thread) thread:set("tid", tostring(math.random(1, 1e9))) end
request = function()
  counter = counter + 1
  wrk.headers["X-GitHub-Delivery"] = prefix .. "-" .. tid .. "-" .. counter
  return wrk.format("POST", "/webhooks")
end
"""


@dataclass
class Run:
    rps: float
    p99_ms: float
    errors: int
    cpu_us: float = float("nan")  # the server process's CPU per answered request


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"server did not start: {cmd}")


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def parse_wrk(out: str) -> Run:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors:.*?(\d+).*?(\d+).*?(\d+).*?(\d+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (
        sum(int(g) for g in sock.groups()) if sock else 0)
    return Run(rps, _ms(*p99.groups()) if p99 else float("nan"), errors)


def run_wrk(url: str, connections: int, seconds: float, headers: dict[str, str],
            script: Path) -> Run:
    cmd = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds:g}s", "--latency",
           "-s", str(script), url + "/webhooks"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def run_python(url: str, connections: int, seconds: float) -> Run:
    def make(i: int) -> tuple[str, bytes, dict[str, str]]:
        return "/webhooks", BODY, {**HEADERS, "X-GitHub-Delivery": str(uuid.uuid4())}

    res = asyncio.run(flat_out(url, make, seconds, "py", concurrency=connections))
    return Run(res.throughput, res.pct(99), res.sent - res.ok)


HEADERS = {"X-GitHub-Event": "pull_request", "X-Hub-Signature-256": sign(BODY, SECRET),
           "Content-Type": "application/json"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--connections", default="4,32")
    ap.add_argument("--python", action="store_true", help="use the Python load generator")
    ap.add_argument("--inprocess", action="store_true",
                    help="CPU us per request of both apps called in-process, no HTTP")
    ap.add_argument("--requests", type=int, default=2000, help="per round, with --inprocess")
    args = ap.parse_args()
    args.load_before = _load()
    conns = [int(c) for c in args.connections.split(",")]
    use_wrk = shutil.which("wrk") is not None and not args.python
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        server = EmbeddedRedis(tmpdir)
        url = server.start()
        flush = redis.Redis.from_url(url)
        body_file, script = tmpdir / "body.json", tmpdir / "deliveries.lua"
        body_file.write_bytes(BODY)
        script.write_text(f'wrk.body = io.open("{body_file}", "rb"):read("*a")\n' + WRK_SCRIPT)
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode()
        if args.inprocess:
            from bench import _inprocess

            cpu = _inprocess.run(url, SECRET, pem, HEADERS, BODY, args.rounds, args.requests,
                                 flush.flushdb)
            server.stop()
            _inprocess.report(cpu, args.requests)
            return
        env = {**os.environ, "REDIS_URL": url, "WEBHOOK_SECRET": SECRET, "APP_ID": "1",
               "PRIVATE_KEY": pem, "APP_SLUG": "bench", "LOG_LEVEL": "WARNING"}
        procs, urls = {}, {}
        try:
            for label, cmd in SERVERS.items():
                port = free_port()
                procs[label] = start([*cmd, "--port", str(port)], env, port)
                urls[label] = f"http://127.0.0.1:{port}"
            results: dict[tuple[str, int], list[Run]] = {}
            for c in conns:  # warm-up: imports, caches, connection pools
                for label in SERVERS:
                    _one(use_wrk, urls[label], c, 1, script)
            for _ in range(args.rounds):
                for c in conns:
                    for label in SERVERS:
                        flush.flushdb()
                        before = cpu_seconds(procs[label].pid)
                        run = _one(use_wrk, urls[label], c, args.seconds, script)
                        used = cpu_seconds(procs[label].pid) - before
                        run.cpu_us = 1e6 * used / max(1.0, run.rps * args.seconds)
                        results.setdefault((label, c), []).append(run)
        finally:
            for proc in procs.values():
                proc.terminate()
                proc.wait()
            server.stop()
    _report(results, conns, args, use_wrk)


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def _one(use_wrk: bool, url: str, c: int, seconds: float, script: Path) -> Run:
    if use_wrk:
        return run_wrk(url, c, seconds, HEADERS, script)
    return run_python(url, c, seconds)


def _report(results: dict[tuple[str, int], list[Run]], conns: list[int],
            args: argparse.Namespace, use_wrk: bool) -> None:
    tool = "wrk -t1" if use_wrk else "Python load generator (measures itself too)"
    print(f"ingress benchmark: {tool}, {args.rounds} alternating rounds x {args.seconds:g} s, "
          f"{os.cpu_count()} cores, {len(BODY):,}-byte pull_request.opened")
    print(f"uvicorn for both: {UVICORN}; load average before/after: {args.load_before} / "
          f"{_load()}")
    print(f"{'server':<18}{'conns':>6}{'req/s (median)':>16}{'p99 ms (median)':>17}"
          f"{'CPU us/req':>12}{'errors':>8}   per round req/s")
    for c in conns:
        for label in SERVERS:
            runs = results[(label, c)]
            print(f"{label:<18}{c:>6}{statistics.median(r.rps for r in runs):>16.0f}"
                  f"{statistics.median(r.p99_ms for r in runs):>17.2f}"
                  f"{statistics.median(r.cpu_us for r in runs):>12.0f}"
                  f"{sum(r.errors for r in runs):>8}   "
                  + " ".join(f"{r.rps:.0f}" for r in runs))
        bare, ours = results[("bare HMAC+RPUSH", c)], results[("shipcrew web", c)]
        ratio = statistics.median(r.rps for r in ours) / statistics.median(r.rps for r in bare)
        p99 = statistics.median(r.p99_ms for r in ours) / statistics.median(
            r.p99_ms for r in bare)
        # each shipcrew round against the bare round just before it: noise shared by both
        paired = statistics.median(o.rps / b.rps for b, o in zip(bare, ours, strict=True))
        cpu = statistics.median(o.cpu_us for o in ours) / statistics.median(
            b.cpu_us for b in bare)
        print(f"{'':<18}{c:>6}  shipcrew/bare: {ratio:.2f}x req/s (median of paired rounds "
              f"{paired:.2f}x), {p99:.2f}x p99, {cpu:.2f}x CPU per request")


if __name__ == "__main__":
    main()
