"""A small Redis cache of head trees by commit SHA, shared by the agents of one change.

The pipeline engineer reads a head's tarball and the auditor reads the same one moments
later; the pipeline's own commit is its head plus the files it wrote, so it seeds that tree
too and the audit of the new head downloads nothing. A commit SHA names its content, so an
entry never goes stale; it is keyed by repository as well (a SHA from one installation never
serves another), expires after `TTL`, and entries over `MAX_ENTRY_BYTES` (compressed) are not
kept. `MAX_ENTRIES` bounds the whole cache: the oldest entries are dropped first.
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from typing import TYPE_CHECKING, Any

import redis

from app.files import MAX_FILE_BYTES, Files

if TYPE_CHECKING:
    from app.context import JobContext

log = logging.getLogger(__name__)
KEY = "shipcrew:tree:{repo}:{sha}"
INDEX = "shipcrew:tree-index"
TTL = 15 * 60
MAX_ENTRY_BYTES = 4 * 1024 * 1024
MAX_ENTRIES = 200


def _key(repo: str, sha: str) -> str:
    return KEY.format(repo=repo.lower(), sha=sha)


def get(conn: redis.Redis, repo: str, sha: str) -> tuple[Files, set[str]] | None:
    try:
        raw = conn.get(_key(repo, sha))
        if not isinstance(raw, bytes):
            return None
        data = json.loads(zlib.decompress(raw))
        return dict(data["files"]), set(data["present"])
    except (redis.RedisError, zlib.error, ValueError, KeyError, TypeError) as exc:
        log.warning("tree cache unreadable for %s@%s: %s", repo, sha[:7], exc)
        return None


def put(conn: redis.Redis, repo: str, sha: str, files: Files, present: set[str]) -> bool:
    """Keep a tree; False when it is too large to cache."""
    raw = zlib.compress(json.dumps({"files": files, "present": sorted(present)}).encode(), 1)
    if len(raw) > MAX_ENTRY_BYTES:
        return False
    key = _key(repo, sha)
    pipe = conn.pipeline()
    pipe.set(key, raw, ex=TTL)
    pipe.zadd(INDEX, {key: time.time()})
    pipe.zremrangebyscore(INDEX, 0, time.time() - TTL)
    pipe.zcard(INDEX)
    *_, count = pipe.execute()
    if count > MAX_ENTRIES:
        old: Any = conn.zpopmin(INDEX, count - MAX_ENTRIES)
        if old:
            conn.delete(*[member for member, _score in old])
    return True


def head_tree(ctx: JobContext, sha: str) -> tuple[Files, set[str]]:
    """`app.gitdata.read_head`, served from the cache when another job read it already."""
    from app.gitdata import read_head

    cached = get(ctx.conn, ctx.repo, sha)
    if cached is not None:
        return cached
    files, present = read_head(ctx, sha)
    put(ctx.conn, ctx.repo, sha, files, present)
    return files, present


def remember_commit(ctx: JobContext, sha: str, parent: tuple[Files, set[str]],
                    changes: Files) -> None:
    """Our own commit `sha` = the parent's tree plus `changes`: cache it without a read."""
    files, present = parent
    kept = {p: t for p, t in changes.items() if len(t.encode()) <= MAX_FILE_BYTES}
    merged = {p: t for p, t in files.items() if p not in changes}
    put(ctx.conn, ctx.repo, sha, {**merged, **kept}, present | changes.keys())
