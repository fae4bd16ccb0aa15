"""A small open-loop HTTP load generator (asyncio + httpx), shared by the benchmarks."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

Request = tuple[str, bytes, dict[str, str]]  # path, body, headers


@dataclass
class Result:
    label: str
    sent: int
    ok: int
    seconds: float
    latencies_ms: list[float]

    @property
    def throughput(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(p / 100 * len(data)))]

    def row(self) -> str:
        return (f"{self.label:<28} {self.ok:>6}/{self.sent:<6} {self.throughput:>8.1f} req/s"
                f"  p50 {self.pct(50):>6.2f} ms  p99 {self.pct(99):>7.2f} ms"
                f"  mean {statistics.fmean(self.latencies_ms or [0]):>6.2f} ms")


async def _one(client: httpx.AsyncClient, req: Request, start: float, out: list[float],
               ok: list[int], expect: int) -> None:
    path, body, headers = req
    try:
        resp = await client.post(path, content=body, headers=headers)
        if resp.status_code == expect:
            ok.append(1)
    except httpx.HTTPError:
        return
    out.append((time.perf_counter() - start) * 1000)


async def fixed_rate(base_url: str, make: Callable[[int], Request], rate: float,
                     seconds: float, label: str, expect: int = 202) -> Result:
    """Send `rate` requests per second for `seconds`; latency counts from the scheduled time,
    so a server that falls behind is charged for the queueing it causes."""
    total = int(rate * seconds)
    latencies: list[float] = []
    ok: list[int] = []
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=10) as client:
        t0 = time.perf_counter()
        tasks = []
        for i in range(total):
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_one(client, make(i), due, latencies, ok, expect)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
    return Result(label, total, len(ok), elapsed, latencies)


async def flat_out(base_url: str, make: Callable[[int], Request], seconds: float,
                   label: str, concurrency: int = 32, expect: int = 202) -> Result:
    latencies: list[float] = []
    ok: list[int] = []
    counter = iter(range(10**9))
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=10) as client:
        async def loop() -> None:
            while time.perf_counter() < stop:
                await _one(client, make(next(counter)), time.perf_counter(), latencies, ok, expect)

        t0 = time.perf_counter()
        await asyncio.gather(*(loop() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    return Result(label, len(latencies), len(ok), elapsed, latencies)
