"""The coordinator's job: read a PR, classify the change, plan and enqueue the agents."""

from __future__ import annotations

import logging
from typing import Any

import redis

from app import checks, generated
from app.config import CONFIG_PATH, ConfigError, GenerateMode, RepoConfig
from app.context import JobContext, is_fork, job_context
from app.coordinator import ChangedFile, Plan, classify, plan
from app.files import Files
from app.github import ClientFactory
from app.handoff import claim_audit, handoff, mark_head, pull_files
from app.logs import bound_delivery
from app.queue import JobSpec, Urgency, enqueue, job_id_for

log = logging.getLogger(__name__)
CONFIG_CHECK = "shipcrew / config"
PIPELINE_CHECK = "shipcrew / pipeline"  # jobs.pipeline.github.CHECK_NAME


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


def agent_jobs(the_plan: Plan, kwargs: dict[str, Any], chain: bool = False) -> list[JobSpec]:
    """The agents' jobs. `chain`: the pipeline engineer is about to commit on top of this
    head, so it runs first (at the auditor's urgency) and enqueues the audit of the head it
    leaves (`audit_after_generation`): the opened head is not audited for nothing."""
    jobs = []
    if the_plan.runs("pipeline_engineer"):
        chained = chain and the_plan.runs("auditor")
        jobs.append(JobSpec("generate", "jobs.pipeline.generate_for_pull_request",
                            {**kwargs, "audit_after": True} if chained else kwargs,
                            Urgency.DEFAULT if chained else Urgency.LOW))
        if chained:
            return jobs
    if the_plan.runs("auditor"):
        jobs.append(JobSpec("audit", "jobs.auditor.audit_pull_request", kwargs,
                            Urgency.DEFAULT))
    return jobs


def audit_after_generation(ctx: JobContext, number: int, head_sha: str,
                           commit: str | None = None, added: Files | None = None) -> str:
    """Enqueue the audit of the head the pipeline engineer leaves: its own commit (new files
    `added` on top of `head_sha`), or `head_sha` itself when it committed nothing. The
    commit's own `pull_request.synchronize` then finds the audit claimed and stays idle."""
    final = commit or head_sha
    kwargs: dict[str, Any] = {"installation_id": ctx.installation_id, "repo": ctx.repo,
                              "delivery_id": ctx.delivery_id, "number": number,
                              "head_sha": final}
    if ctx.pull_json is not None and ctx.handed_for == number:
        pull = {**ctx.pull_json, "head": {**ctx.pull_json["head"], "sha": final}}
        files: list[dict[str, Any]] | None = list(ctx.handed.get("files") or []) or None
        if commit and files is not None:
            known = {f["path"] for f in files}
            files = None if known & set(added or {}) else files + [
                {"path": p, "status": "added", "patch": None, "previous_path": None}
                for p in sorted(added or {})]
        kwargs["handed"] = {**handoff(pull, ctx.config_text, files), "claimed": bool(commit)}
    if commit:
        mark_head(ctx.conn, ctx.repo, number, commit)
        claim_audit(ctx.conn, ctx.repo, commit)
    return enqueue(ctx.conn, ctx.delivery_id,
                   JobSpec("audit", "jobs.auditor.audit_pull_request", kwargs, Urgency.DEFAULT))


def plan_pull_request(
    *, installation_id: int, repo: str, number: int, head_sha: str, delivery_id: str,
    conn: redis.Redis | None = None, factory: ClientFactory | None = None,
) -> dict[str, Any]:
    with bound_delivery(delivery_id):
        ctx = job_context(installation_id, repo, delivery_id, conn, factory)
        if (pr := ctx.current_pull(number, head_sha, "plan")) is None:
            return {"status": "stale"}
        files = pull_files(ctx, number)
        config = ctx.config
        if isinstance(config, ConfigError):
            report_config_error(ctx, head_sha, config)
            config = RepoConfig()
        classification = classify(
            [ChangedFile(path=f["path"], status=f["status"],
                         previous_filename=f["previous_path"])
             for f in generated.without_ours(ctx.conn, repo, files)], config)
        the_plan = plan(classification, config, is_fork=is_fork(pr, repo), event="pull_request")
        kwargs: dict[str, Any] = {"installation_id": installation_id, "repo": repo,
                                  "delivery_id": delivery_id, "number": number,
                                  "head_sha": head_sha}
        if ctx.pull_json is not None:
            kwargs["handed"] = handoff(ctx.pull_json, ctx.config_text, files)
        chain = config.generate.mode is GenerateMode.COMMIT and not is_fork(pr, repo)
        specs = agent_jobs(the_plan, kwargs, chain)
        if any(spec.kwargs.get("audit_after") for spec in specs):
            # first feedback now, not when the pipeline engineer's turn comes
            checks.open_queued(ctx.gh, ctx.conn, job_id_for(delivery_id, "generate"),
                               ctx.owner, ctx.name, name=PIPELINE_CHECK, head_sha=head_sha,
                               title="Queued: generating the pipeline, then the audit")
        job_ids = [enqueue(ctx.conn, delivery_id, spec) for spec in specs]
        ctx.audit.record("plan", repo=repo, number=number, head_sha=head_sha,
                         files=[f["path"] for f in files], tier=classification.tier,
                         kinds=sorted(classification.kinds), jobs=job_ids,
                         config="error" if isinstance(ctx.config, ConfigError) else "ok")
        log.info("planned %s#%s at %s: tier %s, %d jobs", repo, number, head_sha[:7],
                 classification.tier, len(job_ids))
        return {"status": "planned", "tier": classification.tier, "jobs": job_ids}
