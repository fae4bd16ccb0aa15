"""Missed-delivery recovery.

GitHub does not redeliver a webhook the App refused (a 503 while Redis was down) or never
answered; it only keeps every attempt in the App's delivery log. The leader (see
app.maintenance) enqueues `recover_deliveries` every `delivery_recovery_interval` seconds and
once when it takes over (start-up catch-up). The job reads the log (`GET /app/hook/deliveries`,
newest first, cursor-paged) back to its checkpoint and asks GitHub to redeliver
(`POST /app/hook/deliveries/{id}/attempts`) each delivery whose latest attempt failed with a
5xx or no answer: once per failed attempt, at most MAX_ATTEMPTS times per GUID. A 4xx was a
deliberate refusal (bad signature, bad payload) and is left alone.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from app import metrics
from app.queue import JobSpec, Urgency

log = logging.getLogger(__name__)
CHECKPOINT = "shipcrew:deliveries:checkpoint"  # epoch seconds of the newest delivery seen
_ASKED = "shipcrew:redelivery:{id}"  # a failed attempt we asked GitHub to redeliver
_TRIES = "shipcrew:redelivery-count:{guid}"
_JOB = "shipcrew:deliveries:job"
_NEXT = "shipcrew:deliveries:next"
OVERLAP = 600.0  # deliveries may still be in flight when we look: read back this far
FIRST_LOOK = 6 * 3600.0  # with no checkpoint yet
MAX_PAGES = 50
MAX_ATTEMPTS = 3
# An ask whose redelivery is not in the log this long after was lost (the worker died while
# asking): ask again. Asking twice is harmless: a redelivery keeps its GUID, which the App
# dedupes on.
ASK_AGAIN = 60.0
REMEMBER = 3 * 24 * 3600  # GitHub redelivers attempts up to three days old
_CURSOR = re.compile(r"[?&]cursor=([^&>]+)[^>]*>;\s*rel=\"next\"")


@dataclass(frozen=True)
class Attempt:
    id: int
    guid: str
    status_code: int
    status: str
    at: float  # delivered_at, epoch seconds

    @classmethod
    def parse(cls, item: dict[str, Any]) -> Attempt:
        at = datetime.fromisoformat(str(item.get("delivered_at") or "1970-01-01T00:00:00Z"))
        return cls(int(item["id"]), str(item["guid"]), int(item.get("status_code") or 0),
                   str(item.get("status") or ""), at.timestamp())

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def retryable(self) -> bool:
        if self.status.lower() == "pending":
            return False
        return self.status_code == 0 or self.status_code >= 500 or self.status_code == 429


def to_redeliver(attempts: Iterable[Attempt]) -> list[Attempt]:
    """Per GUID that never got through: its latest attempt, if that one failed in a way
    waiting can heal. Oldest first."""
    latest: dict[str, Attempt] = {}
    delivered: set[str] = set()
    for a in attempts:
        if a.ok:
            delivered.add(a.guid)
        if a.guid not in latest or a.id > latest[a.guid].id:
            latest[a.guid] = a
    return sorted((a for g, a in latest.items() if g not in delivered and a.retryable),
                  key=lambda a: a.id)


def next_cursor(link: str) -> str | None:
    found = _CURSOR.search(link or "")
    return found.group(1) if found else None


def read_log(gh: Any, since: float) -> list[Attempt]:
    """Attempts newest first, back to `since` (GitHub lists the newest first)."""
    out: list[Attempt] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        params: dict[str, Any] = {"per_page": 100}
        if cursor:
            params["cursor"] = cursor
        resp = gh.rest.apps.list_webhook_deliveries(**params)
        page = [Attempt.parse(item) for item in resp.json()]
        out += page
        cursor = next_cursor(resp.headers.get("link", ""))
        if not page or cursor is None or page[-1].at < since:
            break
    return out


def recover(conn: redis.Redis, gh: Any, now: float) -> int:
    raw = conn.get(CHECKPOINT)
    since = (float(raw) if raw else now - FIRST_LOOK) - OVERLAP
    attempts = read_log(gh, since)
    asked = 0
    for a in to_redeliver(x for x in attempts if x.at >= since):
        key = _ASKED.format(id=a.id)
        if not conn.set(key, now, nx=True, ex=REMEMBER):
            asked_at = conn.get(key)
            if asked_at is not None and now - float(asked_at) < ASK_AGAIN:
                continue  # asked already: its redelivery has not shown up in the log yet
            conn.set(key, now, ex=REMEMBER)  # long ago: the ask was lost (we died asking)
        tries = conn.incr(_TRIES.format(guid=a.guid))
        conn.expire(_TRIES.format(guid=a.guid), REMEMBER)
        if tries > MAX_ATTEMPTS:
            log.warning("delivery %s failed %d times; giving up on it", a.guid, tries - 1)
            continue
        try:
            gh.rest.apps.redeliver_webhook_delivery(a.id)
        except Exception:
            conn.delete(_ASKED.format(id=a.id))  # ask again next time
            conn.decr(_TRIES.format(guid=a.guid))
            raise
        asked += 1
        metrics.count(conn, "redelivered")
    if attempts:
        newest = max(a.at for a in attempts)
        conn.set(CHECKPOINT, max(newest, float(raw or 0)))
    if asked:
        log.warning("asked GitHub to redeliver %d failed deliveries", asked)
    return asked


def recover_deliveries() -> dict[str, Any]:
    """The RQ job."""
    import time

    from app.context import current_redis
    from app.github import GitHubApp
    from app.settings import get_settings

    gh = GitHubApp(get_settings()).app_client()
    return {"redelivered": recover(current_redis(), gh, time.time())}


def schedule(conn: redis.Redis, now: float, interval: float, *, force: bool = False) -> bool:
    """Enqueue the recovery job when due (or `force`d) and none is in flight."""
    from app.maintenance import schedule_job

    spec = JobSpec("recover-deliveries", "app.recovery.recover_deliveries", {},
                   Urgency.URGENT, timeout=300)
    return schedule_job(conn, now, interval, spec, _JOB, _NEXT, force=force)
