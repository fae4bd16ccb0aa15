"""CPU per request of both ingress apps called in this process, without HTTP or a client.

wrk's req/s on a shared 2-core machine moves with whatever else runs; the CPU a request
costs the app does not. Each app is called as uvicorn calls it (an ASGI scope, one
`http.request` message with the whole body), each request with a fresh delivery id, the
same signed body and the same Redis; rounds alternate bare, shipcrew, bare, ...
Instructions per request, steadier still (user space; run each with N=0 and N=500):

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        .venv/bin/python -m bench._inprocess redis://127.0.0.1:6379/9 "shipcrew web" 500
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

App = Callable[..., Any]


def _scope(headers: dict[str, str], delivery: str, size: int) -> dict[str, Any]:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw += [(b"x-github-delivery", delivery.encode()), (b"content-length", str(size).encode()),
            (b"host", b"127.0.0.1")]
    return {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1", "method": "POST", "scheme": "http", "path": "/webhooks",
            "raw_path": b"/webhooks", "root_path": "", "query_string": b"", "headers": raw,
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {}}


async def _calls(app: App, headers: dict[str, str], body: bytes, n: int, tag: str) -> float:
    """CPU seconds for `n` requests; every answer must be a 202."""
    statuses: list[int] = []
    message = {"type": "http.request", "body": body, "more_body": False}

    async def receive() -> dict[str, Any]:
        return message

    async def send(msg: dict[str, Any]) -> None:
        if msg["type"] == "http.response.start":
            statuses.append(msg["status"])

    scopes = [_scope(headers, f"{tag}-{i}", len(body)) for i in range(n)]
    gc.collect()
    start = time.process_time()
    for scope in scopes:
        await app(scope, receive, send)
    used = time.process_time() - start
    bad = [s for s in statuses if s != 202]
    if bad or len(statuses) != n:
        raise SystemExit(f"{tag}: {len(bad)} answers other than 202 (first {bad[:1]})")
    return used


def _apps(redis_url: str, secret: str, pem: str) -> dict[str, App]:
    os.environ.update({"REDIS_URL": redis_url, "WEBHOOK_SECRET": secret})
    from app.main import create_app
    from app.settings import Settings

    bare = importlib.import_module("bench.bare_endpoint").app
    settings = Settings(redis_url=redis_url, webhook_secret=secret, app_id=1,
                        private_key=pem, app_slug="bench", log_level="WARNING")
    return {"bare HMAC+RPUSH": bare, "shipcrew web": create_app(settings)}


def run(redis_url: str, secret: str, pem: str, headers: dict[str, str], body: bytes,
        rounds: int, requests: int, flush: Callable[[], Any]) -> dict[str, list[float]]:
    """Microseconds of CPU per request, per round, for each app."""
    import logging

    logging.getLogger("shipcrew").setLevel(logging.WARNING)
    apps = _apps(redis_url, secret, pem)
    out: dict[str, list[float]] = {label: [] for label in apps}

    async def main() -> None:
        for label, app in apps.items():  # warm-up: imports, templates, the script
            await _calls(app, headers, body, 50, f"warm-{label[:4]}")
        for r in range(rounds):
            for label, app in apps.items():
                flush()
                used = await _calls(app, headers, body, requests, f"r{r}-{label[:4]}")
                out[label].append(1e6 * used / requests)

    asyncio.run(main())
    return out


def report(results: dict[str, list[float]], requests: int) -> None:
    print(f"in-process ASGI calls, {requests} requests per round, CPU us per request "
          f"(load {' '.join(f'{x:.1f}' for x in os.getloadavg())})")
    for label, runs in results.items():
        print(f"{label:<18}median {statistics.median(runs):>6.1f}  min {min(runs):>6.1f}"
              "   per round " + " ".join(f"{r:.1f}" for r in runs))
    bare, ours = results["bare HMAC+RPUSH"], results["shipcrew web"]
    paired = statistics.median(o / b for b, o in zip(bare, ours, strict=True))
    print(f"shipcrew/bare CPU per request: {statistics.median(ours) / statistics.median(bare):.2f}x"
          f" (median of paired rounds {paired:.2f}x, of minima {min(ours) / min(bare):.2f}x)")


def _requests_only() -> None:
    """`python -m bench._inprocess REDIS_URL LABEL N`: warm up, then N requests to one app.
    Under `valgrind --tool=callgrind`, (Ir at N) - (Ir at 0), over N, is instructions per
    request: a figure other processes on the machine do not move."""
    import sys

    from bench.ingress import BODY, HEADERS, SECRET

    url, label, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    app = _apps(url, SECRET, "unused")[label]

    async def main() -> None:
        await _calls(app, HEADERS, BODY, 100, f"warm-{os.getpid()}")
        await _calls(app, HEADERS, BODY, n, f"count-{os.getpid()}")

    asyncio.run(main())


if __name__ == "__main__":
    _requests_only()
