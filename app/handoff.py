"""What one job of a delivery read from GitHub, handed on to the jobs it enqueues.

The planner reads the PR, the repo config and the PR's file list once; the agents it plans
receive them in a `handed` kwarg instead of asking GitHub again. Every job still works without
it (jobs enqueued by an older release, by `/crew` commands, by our own push): `JobContext`
falls back to the API. Handed data is bound to the exact head: a PR handed for another head
is ignored.

Staleness without a PR read: every job that confirms a PR's open head through the API
records it (`mark_head`); a job holding handed data for an older head sees the newer mark
and drops its work, as it would after reading the PR.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import redis

if TYPE_CHECKING:
    from app.context import JobContext

HEAD_KEY = "shipcrew:head:{repo}:{number}"
CLAIM_KEY = "shipcrew:audit-claimed:{repo}:{sha}"
CLAIM_TTL = 24 * 3600
HEAD_TTL = 7 * 24 * 3600
MAX_HANDED_FILES_BYTES = 256 * 1024  # larger file lists (patches) are re-read by each job


def mark_head(conn: redis.Redis, repo: str, number: int, head_sha: str) -> None:
    conn.set(HEAD_KEY.format(repo=repo.lower(), number=number), head_sha, ex=HEAD_TTL)


def marked_head(conn: redis.Redis, repo: str, number: int) -> str | None:
    raw = conn.get(HEAD_KEY.format(repo=repo.lower(), number=number))
    return raw.decode() if isinstance(raw, bytes) else raw


def claim_audit(conn: redis.Redis, repo: str, sha: str) -> None:
    """The pipeline engineer enqueued the audit of its own commit `sha`."""
    conn.set(CLAIM_KEY.format(repo=repo.lower(), sha=sha), "1", ex=CLAIM_TTL)


def audit_claimed(conn: redis.Redis, repo: str, sha: str, handed: dict[str, Any] | None
                  ) -> bool:
    """True for the audit our own push's webhook would start when the pipeline engineer
    already enqueued that audit (which carries `claimed`)."""
    if (handed or {}).get("claimed"):
        return False
    return bool(conn.exists(CLAIM_KEY.format(repo=repo.lower(), sha=sha)))


def handoff(pull: dict[str, Any], config_text: str | None,
            files: list[dict[str, Any]] | None) -> dict[str, Any]:
    """The `handed` kwarg: the PR as GitHub sent it, the config text (None: no file) and the
    PR's files (left out when large: a job re-reads them)."""
    out: dict[str, Any] = {"pull": pull, "config_text": config_text}
    if files is not None:
        plain = [{"path": str(f["path"]), "status": str(f["status"]),
                  "patch": f["patch"] if isinstance(f.get("patch"), str) else None,
                  "previous_path": f["previous_path"] if isinstance(
                      f.get("previous_path"), str) else None} for f in files]
        if len(json.dumps(plain)) <= MAX_HANDED_FILES_BYTES:
            out["files"] = plain
    return out


def handed_pull(handed: dict[str, Any] | None, number: int, head_sha: str) -> Any | None:
    """The handed PR as githubkit's model, only if it is this PR at this head."""
    raw = (handed or {}).get("pull")
    if not isinstance(raw, dict) or raw.get("number") != number:
        return None
    if not isinstance(raw.get("head"), dict) or raw["head"].get("sha") != head_sha:
        return None
    from githubkit_schemas.latest.models import PullRequest

    return PullRequest.model_validate(raw)


def last_try() -> bool:
    """Inside an RQ job: no retry is left after this attempt."""
    from rq import get_current_job

    job = get_current_job()
    return job is None or not job.retries_left


def pull_files(ctx: JobContext, number: int) -> list[dict[str, Any]]:
    """The PR's files: handed on by the planner, else read (`app.gitdata.changed_files`)."""
    files = ctx.handed.get("files")
    if isinstance(files, list) and ctx.handed_for == number:
        return files
    from app.gitdata import changed_files

    return changed_files(ctx, number)
