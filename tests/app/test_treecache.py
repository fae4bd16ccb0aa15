"""The tree cache: by repository and commit SHA, bounded, and our own commit without a read."""

from __future__ import annotations

import redis

from app import treecache
from app.context import JobContext


def test_a_tree_is_kept_per_repository_and_sha(redis_conn: redis.Redis) -> None:
    files, present = {"a.txt": "a\n"}, {"a.txt", "logo.png"}
    assert treecache.put(redis_conn, "Octo/Svc", "1" * 40, files, present)
    assert treecache.get(redis_conn, "octo/svc", "1" * 40) == (files, present)
    assert treecache.get(redis_conn, "other/svc", "1" * 40) is None  # never across repos
    assert treecache.get(redis_conn, "octo/svc", "2" * 40) is None


def test_the_cache_is_bounded(redis_conn: redis.Redis, monkeypatch) -> None:
    monkeypatch.setattr(treecache, "MAX_ENTRIES", 3)
    for i in range(5):
        treecache.put(redis_conn, "octo/svc", f"{i:040d}", {"f": str(i)}, {"f"})
    kept = [i for i in range(5) if treecache.get(redis_conn, "octo/svc", f"{i:040d}")]
    assert kept == [2, 3, 4]
    monkeypatch.setattr(treecache, "MAX_ENTRY_BYTES", 10)
    assert not treecache.put(redis_conn, "octo/svc", "9" * 40, {"f": "x" * 100}, {"f"})


def test_our_commit_is_its_parent_plus_the_changes(redis_conn: redis.Redis) -> None:
    ctx = JobContext(1, "octo/svc", "d1", redis_conn)
    parent = ({"a.txt": "a\n", "Dockerfile": "FROM old\n"}, {"a.txt", "Dockerfile", "x.bin"})
    treecache.remember_commit(ctx, "3" * 40, parent, {"Dockerfile": "FROM new\n",
                                                      "ci.yml": "on: push\n"})
    files, present = treecache.get(redis_conn, "octo/svc", "3" * 40) or ({}, set())
    assert files == {"a.txt": "a\n", "Dockerfile": "FROM new\n", "ci.yml": "on: push\n"}
    assert present == {"a.txt", "Dockerfile", "x.bin", "ci.yml"}
    assert treecache.head_tree(ctx, "3" * 40) == (files, present)  # no GitHub call needed
