"""Handed-on reads: bound to the PR and head they were read for, dropped once stale."""

from __future__ import annotations

import msgspec
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


HOOK = {"number": 7, "state": "open", "updated_at": "2026-12-02T06:00:00Z",
        "head": {"sha": "a" * 40, "ref": "feature", "repo": {"full_name": "octo/svc"}},
        "base": {"sha": "b" * 40, "ref": "main",
                 "repo": {"full_name": "octo/svc", "default_branch": "main"}},
        "user": {"login": "alice", "type": "User"}, "labels": [{"name": "ok", "color": "f"}],
        "title": "not kept", "body": "x" * 10_000}


def test_the_webhooks_pull_keeps_only_what_jobs_read_and_must_match() -> None:
    from app.events import PullRequest

    raw = handoff.hook_pull(msgspec.convert(HOOK, PullRequest))
    assert len(raw) < 600 and b"not kept" not in raw
    pr = handoff.webhook_pull(raw, 7, "a" * 40)
    assert pr is not None and pr.head.ref == "feature" and pr.labels[0].name == "ok"
    assert pr.base.repo is not None and pr.base.repo.default_branch == "main"
    assert handoff.webhook_pull(raw, 8, "a" * 40) is None
    assert handoff.webhook_pull(raw, 7, "c" * 40) is None
    assert handoff.webhook_pull(b"{not json", 7, "a" * 40) is None
    assert handoff.webhook_pull(None, 7, "a" * 40) is None
    closed = msgspec.convert({**HOOK, "state": "closed"}, PullRequest)
    assert handoff.webhook_pull(handoff.hook_pull(closed), 7, "a" * 40) is None
    no_base = {**HOOK, "base": {"sha": "b" * 40}}
    assert handoff.webhook_pull(handoff.hook_pull(msgspec.convert(no_base, PullRequest)),
                                7, "a" * 40) is None  # the config's branch would be unknown
    assert msgspec.json.encode(handoff.compact(HOOK)) == raw


def test_a_file_list_names_its_head_only_when_every_entry_agrees() -> None:
    def entry(status: str, ref: str | None) -> dict:
        return {"path": "p", "status": status, "ref": ref}

    assert handoff.files_head([entry("added", "a"), entry("modified", "a")]) == "a"
    assert handoff.files_head([entry("added", "a"), entry("removed", "base")]) == "a"
    assert handoff.files_head([entry("added", "a"), entry("modified", "b")]) is None
    assert handoff.files_head([entry("added", None)]) is None
    assert handoff.files_head([]) is None
    assert handoff.contents_ref("https://api/x/contents/a%20b?ref=" + "a" * 40) == "a" * 40
    assert handoff.contents_ref(None) is None


def test_a_close_counts_against_pulls_from_before_it(redis_conn: redis.Redis) -> None:
    assert not handoff.closed_since(redis_conn, "octo/svc", 7, "2026-12-02T06:00:00Z")
    handoff.mark_closed(redis_conn, "Octo/Svc", 7, "2026-12-02T06:00:05Z")
    assert handoff.closed_since(redis_conn, "octo/svc", 7, "2026-12-02T06:00:00Z")
    assert handoff.closed_since(redis_conn, "octo/svc", 7, "2026-12-02T06:00:05Z")  # a tie
    assert not handoff.closed_since(redis_conn, "octo/svc", 7, "2026-12-02T06:01:00Z")  # reopened
    assert handoff.closed_since(redis_conn, "octo/svc", 7, None)
    assert not handoff.closed_since(redis_conn, "octo/svc", 8, None)
