"""The auditor on a push: `shipcrew / policy` for every commit that lands on the default
branch or on a branch an environment deploys from (`environments.*.branches`).

The delivery workflow deploys what is on `main`, and a merge commit is a commit nobody has
audited yet: without a verdict on it, every gate would wait forever. The lineage of the
commit (`app.lineage`) is recorded here, once, for the release manager to read.

API calls: the config, the compare of `before...after` (patches give the changed lines),
one tarball, the lineage (three or four), one check run.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import redis
from githubkit.exception import RequestFailed

from app import checks, lineage
from app.config import ConfigError, PoliciesConfig, RepoConfig
from app.context import JobContext, job_context
from app.coordinator import glob_match
from app.gitdata import read_head
from app.github import ClientFactory, body
from app.logs import bound_delivery
from jobs.auditor.core import audit_files
from jobs.auditor.github import (
    CHECK_NAME,
    VERDICT_KEY,
    VERDICT_TTL,
    changed_lines,
    check_annotations,
    failures,
    policy_dirs,
)
from jobs.auditor.report import CONCLUSIONS, check_summary

log = logging.getLogger(__name__)
ZERO = "0" * 40


def watched(branch: str, default_branch: str, config: RepoConfig | ConfigError) -> bool:
    """The default branch, and every branch an environment names (globs allowed)."""
    if branch == default_branch:
        return True
    if isinstance(config, ConfigError):
        return False
    return any(glob_match(pattern, branch) for env in config.environments.values()
               for pattern in env.branches or [])


def _pushed_files(ctx: JobContext, before: str, after: str) -> list[dict[str, Any]] | None:
    """Files the push changed, shaped like a PR's files; None when unknown (a new branch)."""
    if not before or before == ZERO:
        return None
    try:
        data = body(ctx.gh.rest.repos.compare_commits(ctx.owner, ctx.name, f"{before}...{after}"))
    except RequestFailed as exc:
        if exc.response.status_code in (404, 422):
            return None
        raise
    return [{"path": f["filename"], "status": f.get("status") or "modified",
             "patch": f.get("patch")} for f in data.get("files") or []]


def audit_push(
    *, installation_id: int, repo: str, delivery_id: str, ref: str, before: str, after: str,
    pusher: str = "", conn: redis.Redis | None = None, factory: ClientFactory | None = None,
) -> dict[str, Any]:
    with bound_delivery(delivery_id):
        ctx = job_context(installation_id, repo, delivery_id, conn, factory)
        branch = ref.removeprefix("refs/heads/")
        if not ref.startswith("refs/heads/") or not watched(branch, ctx.default_branch,
                                                             ctx.config):
            return {"status": "ignored", "ref": ref}
        config = ctx.config if isinstance(ctx.config, RepoConfig) else RepoConfig()
        traced = lineage.trace(ctx.gh, repo, after, branch, config)
        lineage.save(ctx.conn, repo, traced)
        policies = PoliciesConfig() if isinstance(ctx.config, ConfigError) else config.policies
        dirs, source = policy_dirs(ctx, policies)
        files, _ = read_head(ctx, after)
        pushed = _pushed_files(ctx, before, after)
        changed = changed_lines(pushed, files) if pushed is not None else {
            p: set(range(1, t.count("\n") + 2)) for p, t in files.items()}
        metadata = {"number": traced.number or 0, "author": traced.pr_author or pusher,
                    "labels": [], "base": branch, "head": branch, "fork": False}
        result = audit_files(files, policy_dirs=dirs, config=policies, changed=changed,
                             metadata=metadata)
        title, summary = check_summary(result.findings, result.verdict, set(changed),
                                       result.notes, [], source)
        summary = f"Push to `{branch}`. {traced.describe()}.\n\n{summary}"
        run_id = checks.publish(
            ctx.gh, ctx.owner, ctx.name, name=CHECK_NAME, head_sha=after,
            conclusion=CONCLUSIONS[result.verdict], title=title,  # type: ignore[arg-type]
            summary=summary, annotations=check_annotations(result.findings, changed),
            external_id=f"push:{branch}"[:100])
        failed = failures(result.findings)
        ctx.conn.set(VERDICT_KEY.format(repo=repo, sha=after), json.dumps(
            {"verdict": result.verdict.value, "failures": failed, "check_run_id": run_id}),
            ex=VERDICT_TTL)
        ctx.audit.record("verdict", repo=repo, branch=branch, head_sha=after, pusher=pusher,
                         verdict=result.verdict.value, failures=failed, check_run_id=run_id,
                         lineage=traced.model_dump(),
                         findings=[f.public() for f in result.findings])
        log.info("audit push %s@%s %s: %s", repo, branch, after[:7], result.verdict.value)
        return {"status": "audited", "verdict": result.verdict.value, "failures": failed,
                "check_run": run_id, "inherits": traced.inherits, "pull": traced.number}
