"""The coordinator's job: read a PR, classify the change, plan which agents run."""

from __future__ import annotations

import logging
from typing import Any

import redis

from app.config import ConfigError
from app.context import JobContext, job_context
from app.github import ClientFactory
from app.logs import bound_delivery

log = logging.getLogger(__name__)


def changed_files(ctx: JobContext, number: int) -> list[dict[str, Any]]:
    """Every file of the PR (GitHub pages them, 100 at a time, up to 3,000)."""
    files = ctx.gh.rest.paginate(
        ctx.gh.rest.pulls.list_files, owner=ctx.owner, repo=ctx.name, pull_number=number,
        per_page=100,
    )
    return [{"path": f.filename, "status": f.status, "patch": f.patch} for f in files]


def is_current(ctx: JobContext, number: int, head_sha: str) -> bool:
    """Latest push wins: work planned for an older head is dropped."""
    pr = ctx.gh.rest.pulls.get(ctx.owner, ctx.name, number).parsed_data
    return pr.state == "open" and pr.head.sha == head_sha


def plan_pull_request(
    *, installation_id: int, repo: str, number: int, head_sha: str, delivery_id: str,
    conn: redis.Redis | None = None, factory: ClientFactory | None = None,
) -> dict[str, Any]:
    with bound_delivery(delivery_id):
        ctx = job_context(installation_id, repo, delivery_id, conn, factory)
        if not is_current(ctx, number, head_sha):
            ctx.audit.record("stale", repo=repo, number=number, head_sha=head_sha)
            return {"status": "stale"}
        files = changed_files(ctx, number)
        config = ctx.config
        plan: dict[str, Any] = {
            "repo": repo, "number": number, "head_sha": head_sha,
            "files": [f["path"] for f in files],
            "config": "error" if isinstance(config, ConfigError) else "ok",
        }
        if isinstance(config, ConfigError):
            plan["config_problems"] = [p.model_dump() for p in config.problems]
        ctx.audit.record("plan", **plan)
        log.info("planned %s#%s at %s: %d files", repo, number, head_sha[:7], len(files))
        return plan
