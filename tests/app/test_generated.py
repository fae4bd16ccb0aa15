from __future__ import annotations

import redis

from app.generated import blob_sha, record, without_ours


def test_blob_sha_is_gits() -> None:
    # `printf 'hello\n' | git hash-object --stdin`
    assert blob_sha("hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a"


def test_only_the_exact_content_is_ours(redis_conn: redis.Redis) -> None:
    record(redis_conn, "Octo/Shop", {"ci.yml": "on: push\n"})
    files = [{"path": "ci.yml", "sha": blob_sha("on: push\n"), "status": "added"},
             {"path": "ci.yml.bak", "sha": blob_sha("on: push\n"), "status": "added"},
             {"path": "app.py", "sha": blob_sha("x"), "status": "modified"}]
    assert [f["path"] for f in without_ours(redis_conn, "octo/shop", files)] == [
        "ci.yml.bak", "app.py"]
    edited = [{"path": "ci.yml", "sha": blob_sha("on: pull_request\n"), "status": "modified"}]
    assert without_ours(redis_conn, "octo/shop", edited) == edited
    assert without_ours(redis_conn, "other/repo", files) == files
