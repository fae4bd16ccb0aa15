"""The coordinator's job: read a PR, classify the change, plan and enqueue the agents."""

from __future__ import annotations

import logging
from typing import Any

import redis

from app import checks, generated
from app.config import CONFIG_PATH, ConfigError, RepoConfig
from app.context import JobContext, is_fork, job_context
from app.coordinator import ChangedFile, Plan, classify, plan
from app.gitdata import changed_files
from app.github import ClientFactory
from app.logs import bound_delivery
from app.queue import JobSpec, Urgency, enqueue

log = logging.getLogger(__name__)
CONFIG_CHECK = "shipcrew / config"


def report_config_error(ctx: JobContext, head_sha: str, error: ConfigError) -> None:
    annotations = [checks.Annotation(p.path, p.line or 1, "failure",
                                     f"{p.field + ': ' if p.field else ''}{p.message}")
                   for p in error.problems]
    checks.publish(
        ctx.gh, ctx.owner, ctx.name, name=CONFIG_CHECK, head_sha=head_sha,
        conclusion="failure", title=f"{CONFIG_PATH} is invalid",
        summary=f"shipcrew cannot read `{CONFIG_PATH}` on the default branch "
                f"`{ctx.default_branch}`; it runs with the defaults until it is fixed.\n\n"
                f"```\n{error.summary()}\n```",
        annotations=annotations,
    )


def agent_jobs(the_plan: Plan, kwargs: dict[str, Any]) -> list[JobSpec]:
    jobs = []
    if the_plan.runs("pipeline_engineer"):
        jobs.append(JobSpec("generate", "jobs.pipeline.generate_for_pull_request", kwargs,
                            Urgency.LOW))
    if the_plan.runs("auditor"):
        jobs.append(JobSpec("audit", "jobs.auditor.audit_pull_request", kwargs,
                            Urgency.DEFAULT))
    return jobs


def plan_pull_request(
    *, installation_id: int, repo: str, number: int, head_sha: str, delivery_id: str,
    conn: redis.Redis | None = None, factory: ClientFactory | None = None,
) -> dict[str, Any]:
    with bound_delivery(delivery_id):
        ctx = job_context(installation_id, repo, delivery_id, conn, factory)
        if (pr := ctx.current_pull(number, head_sha, "plan")) is None:
            return {"status": "stale"}
        files = changed_files(ctx, number)
        config = ctx.config
        if isinstance(config, ConfigError):
            report_config_error(ctx, head_sha, config)
            config = RepoConfig()
        classification = classify(
            [ChangedFile(path=f["path"], status=f["status"],
                         previous_filename=f["previous_path"])
             for f in generated.without_ours(ctx.conn, repo, files)], config)
        the_plan = plan(classification, config, is_fork=is_fork(pr, repo), event="pull_request")
        kwargs = {"installation_id": installation_id, "repo": repo, "delivery_id": delivery_id,
                  "number": number, "head_sha": head_sha}
        job_ids = [enqueue(ctx.conn, delivery_id, spec) for spec in agent_jobs(the_plan, kwargs)]
        ctx.audit.record("plan", repo=repo, number=number, head_sha=head_sha,
                         files=[f["path"] for f in files], tier=classification.tier,
                         kinds=sorted(classification.kinds), jobs=job_ids,
                         config="error" if isinstance(ctx.config, ConfigError) else "ok")
        log.info("planned %s#%s at %s: tier %s, %d jobs", repo, number, head_sha[:7],
                 classification.tier, len(job_ids))
        return {"status": "planned", "tier": classification.tier, "jobs": job_ids}
