"""Ingress benchmark: signed pull_request.opened deliveries against the App (uvicorn, real
Redis) at fixed rates and flat out, next to a bare HMAC+RPUSH endpoint on the same stack.

    .venv/bin/python bench/ingress.py [--seconds 5] [--rates 50,100,200,400]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.embedded import EmbeddedRedis  # noqa: E402
from app.webhooks import sign  # noqa: E402
from bench._load import Request, fixed_rate, flat_out  # noqa: E402

SECRET = "bench-secret"
PAYLOAD = json.loads((ROOT / "tests/fixtures/webhooks/pull_request/opened-2.json").read_text())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_request(i: int) -> Request:
    body = json.dumps(PAYLOAD).encode()
    return "/webhooks", body, {
        "X-GitHub-Event": "pull_request", "X-GitHub-Delivery": str(uuid.uuid4()),
        "X-Hub-Signature-256": sign(body, SECRET), "Content-Type": "application/json"}


def start(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"server did not start: {cmd}")


async def measure(label: str, url: str, rates: list[int], seconds: float) -> list[str]:
    rows = []
    await fixed_rate(url, make_request, 50, 1, "warm-up")
    for rate in rates:
        res = await fixed_rate(url, make_request, rate, seconds, f"{label} @{rate}/s")
        rows.append(res.row())
    res = await flat_out(url, make_request, seconds, f"{label} flat out")
    rows.append(res.row())
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rates", default="50,100,200,400")
    args = ap.parse_args()
    rates = [int(r) for r in args.rates.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedRedis(Path(tmp))
        url = server.start()
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode()
        env = {**os.environ, "REDIS_URL": url, "WEBHOOK_SECRET": SECRET, "APP_ID": "1",
               "PRIVATE_KEY": pem, "APP_SLUG": "bench", "LOG_LEVEL": "WARNING"}
        results = []
        for label, cmd in [
            ("bare HMAC+RPUSH", [sys.executable, "-m", "uvicorn", "bench.bare_endpoint:app",
                                 "--no-access-log", "--log-level", "warning"]),
            ("shipcrew web", [sys.executable, "-m", "app.cli", "web"]),
        ]:
            port = free_port()
            proc = start([*cmd, "--port", str(port)], env, port)
            try:
                results += asyncio.run(measure(label, f"http://127.0.0.1:{port}", rates,
                                               args.seconds))
            finally:
                proc.terminate()
                proc.wait()
        server.stop()
    print(f"ingress benchmark: {args.seconds:g} s per step, {os.cpu_count()} cores, "
          "load generator in this process")
    print("\n".join(results))


if __name__ == "__main__":
    main()
