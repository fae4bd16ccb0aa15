"""What one job of a delivery read from GitHub, handed on to the jobs it enqueues.

The planner reads the PR, the repo config and the PR's file list once; the agents it plans
receive them in a `handed` kwarg instead of asking GitHub again. Every job still works without
it (jobs enqueued by an older release, by `/crew` commands, by our own push): `JobContext`
falls back to the API. Handed data is bound to the exact head: a PR handed for another head
is ignored.

Staleness without a PR read: every job that confirms a PR's open head through the API
records it (`mark_head`); a job holding handed data for an older head sees the newer mark
and drops its work, as it would after reading the PR.

The plan of a new head does not read the PR either: the web hands it the PR from the
webhook's signed payload (`hook_pull`: only the fields jobs read, app.events.PullRequest,
as ~0.5 KB of JSON). The plan takes it once the file list it reads anyway is of that very
head (each entry's `contents_url` names its commit: `files_head`) and no `closed` delivery
came after it (`mark_closed`); anything else, and it reads the PR. Handed PRs are only those
fields, whichever way they were read (`compact`), so later jobs' descriptions stay short.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import msgspec
import redis

from app.events import PullRequest

if TYPE_CHECKING:
    from app.context import JobContext

HEAD_KEY = "shipcrew:head:{repo}:{number}"
CLOSED_KEY = "shipcrew:closed:{repo}:{number}"
CLAIM_KEY = "shipcrew:audit-claimed:{repo}:{sha}"
CLAIM_TTL = 24 * 3600
HEAD_TTL = 7 * 24 * 3600
MAX_HANDED_FILES_BYTES = 256 * 1024  # larger file lists (patches) are re-read by each job


def mark_head(conn: redis.Redis, repo: str, number: int, head_sha: str) -> None:
    conn.set(HEAD_KEY.format(repo=repo.lower(), number=number), head_sha, ex=HEAD_TTL)


def marked_head(conn: redis.Redis, repo: str, number: int) -> str | None:
    raw = conn.get(HEAD_KEY.format(repo=repo.lower(), number=number))
    return raw.decode() if isinstance(raw, bytes) else raw


def mark_closed(conn: redis.Redis, repo: str, number: int, at: str | None) -> None:
    """A `pull_request.closed` delivery: the PR was closed at `at` (its `updated_at`)."""
    conn.set(CLOSED_KEY.format(repo=repo.lower(), number=number), at or "", ex=HEAD_TTL)


def closed_since(conn: redis.Redis, repo: str, number: int, at: str | None) -> bool:
    """Whether the PR was closed at or after `at` (GitHub's ISO timestamps order as text;
    unknown times count as closed after)."""
    raw = conn.get(CLOSED_KEY.format(repo=repo.lower(), number=number))
    if raw is None:
        return False
    closed = raw.decode() if isinstance(raw, bytes) else str(raw)
    return not (closed and at) or closed >= at


def hook_pull(pr: PullRequest) -> bytes:
    """The webhook's PR as the web hands it to the first look and the plan."""
    return msgspec.json.encode(pr)


_hook_decoder = msgspec.json.Decoder(PullRequest, strict=False)


def _usable(pr: PullRequest, number: int, head_sha: str) -> PullRequest | None:
    if pr.number != number or pr.head.sha != head_sha or pr.state != "open":
        return None
    return pr if pr.base.repo is not None and pr.base.repo.default_branch else None


def webhook_pull(raw: bytes | None, number: int, head_sha: str) -> PullRequest | None:
    """The PR the web handed (`hook_pull`), if it is this open PR at this head."""
    if not raw:
        return None
    try:
        return _usable(_hook_decoder.decode(raw), number, head_sha)
    except (msgspec.DecodeError, RecursionError):
        return None


def compact(pull: dict[str, Any]) -> dict[str, Any]:
    """A PR as GitHub sends it (API or webhook), cut to the fields any job reads."""
    return msgspec.to_builtins(msgspec.convert(pull, PullRequest, strict=False))  # type: ignore[no-any-return]


def files_head(files: list[dict[str, Any]]) -> str | None:
    """The one commit a PR's file list is of (GitHub names it in each entry's
    `contents_url`; a removed file's entry is left out of the count), or None."""
    refs = {f.get("ref") for f in files if f.get("status") != "removed"}
    return next(iter(refs)) if len(refs) == 1 and None not in refs else None


def contents_ref(contents_url: str | None) -> str | None:
    """The commit a PR file entry is of: `…/contents/<path>?ref=<sha>`."""
    refs = parse_qs(urlsplit(contents_url or "").query).get("ref")
    return refs[0] if refs else None


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


def handed_pull(handed: dict[str, Any] | None, number: int, head_sha: str
                ) -> PullRequest | None:
    """The handed PR, only if it is this open PR at this head."""
    raw = (handed or {}).get("pull")
    if not isinstance(raw, dict):
        return None
    try:
        return _usable(msgspec.convert(raw, PullRequest, strict=False), number, head_sha)
    except msgspec.ValidationError:
        return None


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
