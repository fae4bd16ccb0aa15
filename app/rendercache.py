"""Helm's answers by content: the same chart, values and Helm give the same render and lint.

The pipeline's validation renders a chart and the audit of the same head renders it again
moments later, often in the other worker; a README-only push renders it a third time. Each
render is a child process with Python and Helm's Go runtime (~0.1-0.3 s of CPU). So replies
are kept in Redis under a hash of the request (the chart's files, release, values, namespace,
Kubernetes version) and of what answers it (the source of app/helm.py, helm_child.py and
helm_check.py, the Helm SDK's version).

Only answers that follow from the chart are kept: a rendered chart, lint messages, a template
error. A limit that was hit (memory, CPU, time, output) may be the load's fault: never kept.
Outside an RQ job and without a connection there is no cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zlib
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import redis

log = logging.getLogger(__name__)
KEY = "shipcrew:helm:{op}:{digest}"
TTL = 3600  # covers validation → audit → a quick follow-up push; an older chart renders again
MAX_ENTRY_BYTES = 1024 * 1024  # compressed; a larger answer is rendered again


@cache
def _renderer() -> bytes:
    h = hashlib.sha256()
    for name in ("helm.py", "helm_child.py", "helm_check.py"):
        h.update((Path(__file__).parent / name).read_bytes())
    try:
        h.update(metadata.version("helm-python-sdk").encode())
    except metadata.PackageNotFoundError:
        h.update(b"no helm sdk")
    return h.digest()


def key(op: str, request: dict[str, Any]) -> str:
    h = hashlib.sha256(_renderer())
    h.update(json.dumps(request, sort_keys=True, ensure_ascii=False).encode())
    return KEY.format(op=op, digest=h.hexdigest())


def connection(conn: redis.Redis | None) -> redis.Redis | None:
    """`conn`, else the running RQ job's connection, else None (no cache)."""
    if conn is not None:
        return conn
    from rq import get_current_job

    job = get_current_job()
    return job.connection if job is not None else None


def get(conn: redis.Redis | None, name: str) -> dict[str, Any] | None:
    if conn is None:
        return None
    try:
        raw = conn.get(name)
        if not isinstance(raw, bytes):
            return None
        reply: dict[str, Any] = json.loads(zlib.decompress(raw))
        return reply
    except (redis.RedisError, zlib.error, ValueError) as exc:
        log.warning("helm cache unreadable: %s", exc)
        return None


def put(conn: redis.Redis | None, name: str, reply: dict[str, Any]) -> None:
    if conn is None:
        return
    raw = zlib.compress(json.dumps(reply).encode(), 1)
    if len(raw) > MAX_ENTRY_BYTES:
        return
    try:
        conn.set(name, raw, ex=TTL)
    except redis.RedisError as exc:  # a cache: the answer is still good
        log.warning("helm cache not written: %s", exc)
