"""Handed-on reads: bound to the PR and head they were read for, dropped once stale."""

from __future__ import annotations

import redis

from app import handoff
from app.context import JobContext

PULL = {"number": 7, "state": "open", "head": {"sha": "a" * 40}}


def test_files_are_plain_and_large_lists_are_left_out(monkeypatch) -> None:
    files = [{"path": "a.py", "status": "added", "patch": object(), "previous_path": None}]
    assert handoff.handoff(PULL, None, files)["files"] == [
        {"path": "a.py", "status": "added", "patch": None, "previous_path": None}]
    monkeypatch.setattr(handoff, "MAX_HANDED_FILES_BYTES", 10)
    assert "files" not in handoff.handoff(PULL, "x: 1", files)


def test_a_pull_is_only_taken_for_its_number_and_head() -> None:
    assert handoff.handed_pull({"pull": PULL}, 8, "a" * 40) is None
    assert handoff.handed_pull({"pull": PULL}, 7, "b" * 40) is None
    assert handoff.handed_pull({}, 7, "a" * 40) is None


def test_the_pipelines_claim_keeps_only_the_webhooks_audit_idle(
        redis_conn: redis.Redis) -> None:
    handoff.claim_audit(redis_conn, "Octo/Svc", "c" * 40)
    assert handoff.audit_claimed(redis_conn, "octo/svc", "c" * 40, None)
    assert not handoff.audit_claimed(redis_conn, "octo/svc", "c" * 40, {"claimed": True})
    assert not handoff.audit_claimed(redis_conn, "octo/svc", "d" * 40, None)


def test_handed_config_is_used_only_once_the_pull_was_accepted(
        redis_conn: redis.Redis) -> None:
    ctx = JobContext(1, "octo/svc", "d1", redis_conn,
                     handed={"pull": PULL, "config_text": "generate: {mode: suggest}\n"})
    ctx.handed_for = 7
    assert ctx.config_text == "generate: {mode: suggest}\n"
    handoff.mark_head(redis_conn, "octo/svc", 7, "e" * 40)
    assert handoff.marked_head(redis_conn, "OCTO/svc", 7) == "e" * 40
