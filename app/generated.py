"""Files shipcrew generated, validated and committed itself: they do not raise a PR's risk.

A generated workflow or chart makes a PR look like a workflow or infrastructure change, and
high risk, though nobody but shipcrew wrote it and every validator passed it. What is
recorded is the exact content (the git blob SHA) per path, per repository: a human edit of
such a file changes its blob and counts again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import redis

KEY = "shipcrew:generated:{repo}"
TTL = 90 * 24 * 3600


def blob_sha(text: str) -> str:
    data = text.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def record(conn: redis.Redis, repo: str, files: Mapping[str, str]) -> None:
    if not files:
        return
    key = KEY.format(repo=repo.lower())
    with conn.pipeline() as pipe:
        pipe.sadd(key, *(f"{path}@{blob_sha(text)}" for path, text in files.items()))
        pipe.expire(key, TTL)
        pipe.execute()


def without_ours(conn: redis.Redis, repo: str, files: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The PR's files (`path`, `sha` = blob) minus those exactly as shipcrew committed them."""
    candidates = [f for f in files if f.get("sha") and f.get("status") != "removed"]
    if not candidates:
        return files
    found = conn.smismember(KEY.format(repo=repo.lower()),
                            [f"{f['path']}@{f['sha']}" for f in candidates])
    ours = {f["path"] for f, hit in zip(candidates, found, strict=True) if hit}
    return [f for f in files if f["path"] not in ours]
