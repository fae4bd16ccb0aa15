"""Which head a `/crew approve` or `/crew waive` was given for, and who made each head.

GitHub tells us who pushed (the sender of `pull_request.opened|reopened|synchronize`; commit
metadata is whatever the pusher wrote) and when (`pull_request.updated_at` of that event,
`comment.created_at` of the comment). `record_push` keeps that per PR; `bind_head` is the pure
rule: a comment is about the head at its `created_at`, so it is refused when a push landed
after it (or a push it cannot date yet), unless it names its commit.
"""

from __future__ import annotations

import re
from datetime import datetime

import redis
from pydantic import BaseModel

from jobs.release.store import GateStore, Push

NAMED_SHA = re.compile(r"[0-9a-f]{7,40}")


class Binding(BaseModel):
    sha: str | None = None  # the head the comment is about; None when refused
    refusal: str = ""


def named_sha(note: str) -> str | None:
    """`/crew approve ENV SHA [note]`: the commit, when the note opens with one."""
    first = note.split(maxsplit=1)[0].lower() if note.strip() else ""
    return first if NAMED_SHA.fullmatch(first) else None


RETRY = "approve again, or name the commit: `/crew approve ENV <sha>`"


def bind_head(pushes: list[Push], head: str, said_at: datetime | None,
              named: str | None = None, retry: str = RETRY) -> Binding:
    """The head a comment made at `said_at` is about, given the recorded pushes and the PR's
    head now. A named commit must be one of the PR's heads."""
    if named:
        known = {p.sha for p in pushes} | {head}
        found = sorted(s for s in known if s.startswith(named))
        if len(found) == 1:
            return Binding(sha=found[0])
        return Binding(refusal=f"refused: `{named[:12]}` is not a head of this pull request")
    if said_at is None:
        return Binding(refusal=f"refused: the comment's time is unknown; {retry}")
    later = [p for p in pushes if p.at > said_at]
    if later:
        p = later[0]
        return Binding(refusal=f"refused: a push landed after the comment (`{p.sha[:7]}` by "
                       f"@{p.by} at {p.at:%H:%M:%S %Z}); {retry}")
    if not any(p.sha == head for p in pushes):
        return Binding(refusal=f"refused: a push landed after the comment or has not reached "
                       f"shipcrew yet (head `{head[:7]}`); {retry}")
    return Binding(sha=head)


def record_push(*, installation_id: int, repo: str, delivery_id: str, number: int,
                head_sha: str, by: str, at: str, conn: redis.Redis | None = None) -> dict:
    """The job for a new head: Redis only, no GitHub call."""
    from app.context import current_redis

    push = Push(sha=head_sha, by=by, at=datetime.fromisoformat(at.replace("Z", "+00:00")))
    GateStore(conn or current_redis(), repo).add_push(number, push)
    return {"status": "recorded", "sha": head_sha, "by": by}
