"""Prometheus metrics kept in Redis, so the web process and every worker add to one set."""

from __future__ import annotations

from collections.abc import Iterable

import redis

from app.queue import QUEUE_ORDER

DELIVERIES = "shipcrew:metrics:deliveries"
REJECTIONS = "shipcrew:metrics:rejections"
JOBS = "shipcrew:metrics:jobs"
# Requests refused before or at the signature check carry no label from the request: an
# unauthenticated peer must not be able to add series. Signed deliveries are labelled by
# event and action, which app.webhooks has checked against GitHub's naming (NAME).
REJECTION_REASONS = ("unsigned", "signature", "header", "too_large", "timeout", "busy", "json",
                     "invalid")
RELIABILITY = "shipcrew:metrics:reliability"
# kind -> (metric name, help): what the crew did to lose nothing and do nothing twice
RELIABILITY_METRICS = {
    "dead_letter": ("shipcrew_dead_letters_total", "Jobs out of retries (failed check run)"),
    "retry_requested": ("shipcrew_retries_requested_total",
                        "Failed jobs run again by /crew retry or the Retry button"),
    "reaped": ("shipcrew_jobs_reaped_total", "Jobs requeued because their worker died"),
    "redelivered": ("shipcrew_redeliveries_total",
                    "Failed webhook deliveries GitHub was asked to redeliver"),
    "swept": ("shipcrew_checks_swept_total",
              "Check runs of ours left open that the sweep completed"),
}


def delivery_field(event: str, action: str | None, outcome: str) -> str:
    return f"{event}|{action or ''}|{outcome}"


def record_delivery(pipe: redis.Redis, event: str, action: str | None, outcome: str) -> None:
    pipe.hincrby(DELIVERIES, delivery_field(event, action, outcome), 1)


def delivery_command(event: str, action: str | None, outcome: str) -> tuple[str, str, str, int]:
    """`record_delivery` as the raw command, for a caller that sends it itself."""
    return ("HINCRBY", DELIVERIES, delivery_field(event, action, outcome), 1)


def record_rejection(pipe: redis.Redis, reason: str) -> None:
    pipe.hincrby(REJECTIONS, reason if reason in REJECTION_REASONS else "invalid", 1)


def record_job(conn: redis.Redis, func: str | None, outcome: str, seconds: float) -> None:
    with conn.pipeline(transaction=False) as pipe:
        pipe.hincrby(JOBS, f"{func}|{outcome}|count", 1)
        pipe.hincrbyfloat(JOBS, f"{func}|{outcome}|sum", seconds)
        pipe.execute()


def count(pipe: redis.Redis, kind: str, label: str = "", n: int = 1) -> None:
    pipe.hincrby(RELIABILITY, f"{kind}|{label}", n)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


Rows = Iterable[tuple[dict[str, str], float]]


def _lines(name: str, kind: str, help_: str, rows: Rows) -> list[str]:
    out = [f"# HELP {name} {help_}", f"# TYPE {name} {kind}"]
    for labels, value in rows:
        lbl = ",".join(f'{k}="{_label(v)}"' for k, v in labels.items())
        out.append(f"{name}{{{lbl}}} {value:g}" if lbl else f"{name} {value:g}")
    return out


def render(conn: redis.Redis) -> str:
    """The Prometheus text exposition format (version 0.0.4)."""
    with conn.pipeline(transaction=False) as pipe:
        pipe.hgetall(DELIVERIES)
        pipe.hgetall(JOBS)
        pipe.hgetall(REJECTIONS)
        pipe.hgetall(RELIABILITY)
        for q in QUEUE_ORDER:
            pipe.llen(f"rq:queue:{q.value}")
        deliveries, jobs, rejections, reliability, *depths = pipe.execute()
    delivery_rows = []
    for key, count in sorted(deliveries.items()):
        parts = key.decode(errors="replace").split("|")
        if len(parts) != 3:  # written by an older version that did not check names: skip
            continue
        event, action, outcome = parts
        delivery_rows.append(({"event": event, "action": action, "outcome": outcome}, float(count)))
    job_count: list[tuple[dict[str, str], float]] = []
    job_sum: list[tuple[dict[str, str], float]] = []
    for key, value in sorted(jobs.items()):
        parts = key.decode(errors="replace").rsplit("|", 2)
        if len(parts) != 3:
            continue
        func, outcome, stat = parts
        row = ({"job": func, "outcome": outcome}, float(value))
        (job_count if stat == "count" else job_sum).append(row)
    rejected = {k.decode(errors="replace"): float(v) for k, v in rejections.items()}
    rejection_rows = [({"reason": r}, rejected.get(r, 0.0)) for r in REJECTION_REASONS]
    lines = _lines("shipcrew_deliveries_total", "counter", "Webhook deliveries received",
                   delivery_rows)
    lines += _lines("shipcrew_webhook_rejections_total", "counter",
                    "Webhook requests refused, by reason", rejection_rows)
    depth_rows = [({"queue": q.value}, float(d)) for q, d in zip(QUEUE_ORDER, depths, strict=True)]
    lines += _lines("shipcrew_queue_depth", "gauge", "Jobs waiting per queue", depth_rows)
    lines += _lines("shipcrew_job_duration_seconds_count", "counter", "Jobs run", job_count)
    lines += _lines("shipcrew_job_duration_seconds_sum", "counter", "Time spent in jobs", job_sum)
    failures = [(lbl, v) for lbl, v in job_count if lbl["outcome"] == "failed"]
    lines += _lines("shipcrew_job_failures_total", "counter", "Jobs that failed for good", failures)
    lines += _reliability_lines(reliability)
    return "\n".join(lines) + "\n"


def _reliability_lines(raw: dict[bytes, bytes]) -> list[str]:
    rows: dict[str, list[tuple[dict[str, str], float]]] = {k: [] for k in RELIABILITY_METRICS}
    for key, value in sorted(raw.items()):
        kind, _, label = key.decode().partition("|")
        if kind in rows:
            rows[kind].append(({"job": label} if label else {}, float(value)))
    out: list[str] = []
    for kind, (name, help_) in RELIABILITY_METRICS.items():
        out += _lines(name, "counter", help_, rows[kind] or [({}, 0.0)])
    return out
