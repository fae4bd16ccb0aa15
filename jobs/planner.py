"""The coordinator's jobs: open a new head's check runs at once (`open_checks`, urgent), then
confirm the PR's head, classify the change, plan and enqueue the agents (`plan_pull_request`)."""

from __future__ import annotations

import logging
from typing import Any

import redis
from rq import get_current_job
from rq.job import Job

from app import checks, generated
from app.config import CONFIG_PATH, ConfigError, GenerateMode, RepoConfig
from app.context import JobContext, is_fork, job_context
from app.coordinator import ChangedFile, Plan, classify, plan
from app.files import Files
from app.gitdata import changed_files
from app.github import ClientFactory, client_for
from app.handoff import (
    claim_audit,
    closed_since,
    files_head,
    handoff,
    last_try,
    mark_closed,
    mark_head,
    pull_files,
    webhook_pull,
)
from app.logs import bound_delivery
from app.queue import JobSpec, Urgency, enqueue, is_transient, job_id_for
from jobs import first_look

log = logging.getLogger(__name__)
CONFIG_CHECK = "shipcrew / config"
PIPELINE_CHECK = "shipcrew / pipeline"  # jobs.pipeline.github.CHECK_NAME
POLICY_CHECK = "shipcrew / policy"  # jobs.auditor.github.CHECK_NAME
MODE_HINT = "shipcrew:generate-mode:{repo}"  # the repo's generate.mode as the planner last read it
MODE_HINT_TTL = 24 * 3600
QUEUED_TITLE = {PIPELINE_CHECK: "Queued: generating the pipeline",
                POLICY_CHECK: "Queued: auditing this commit"}


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
    if commit:  # a policy run opened on the head it leaves is not the audit's to complete
        _close_opened(ctx, job_id_for(ctx.delivery_id, "audit"), POLICY_CHECK, head_sha,
                      f"Superseded: shipcrew committed {commit[:7]} on top; its verdict is "
                      "on that commit.")
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
                   JobSpec("audit", "jobs.auditor.audit_pull_request", kwargs, Urgency.DEFAULT),
                   at_front=True)


def expected_runs(conn: redis.Redis, repo: str, fork: bool) -> list[tuple[str, str]]:
    """(check run, job that completes it) a new head will get, before its plan is known: from
    the repo's generate.mode as last read (default `commit`) and the payload's fork flag. In
    `commit` mode on a same-repo PR the audit is of the crew's commit, not of this head."""
    raw = conn.get(MODE_HINT.format(repo=repo.lower()))
    mode = raw.decode() if isinstance(raw, bytes) else GenerateMode.COMMIT.value
    if mode == GenerateMode.OFF.value:
        return [(POLICY_CHECK, "audit")]
    if mode == GenerateMode.COMMIT.value and not fork:
        return [(PIPELINE_CHECK, "generate")]
    return [(PIPELINE_CHECK, "generate"), (POLICY_CHECK, "audit")]


def open_checks(
    *, installation_id: int, repo: str, number: int, head_sha: str, delivery_id: str,
    fork: bool = False, pushed: dict[str, str] | None = None, conn: redis.Redis | None = None,
    factory: ClientFactory | None = None, hook_pull: bytes | None = None,
) -> dict[str, Any]:
    """The urgent step of a new head (`first_look`); inside its RQ job it also does the first
    looks waiting behind it, a few at a time (jobs.first_look: claimed, never dequeued).
    `hook_pull`: the webhook's PR, for the plan (app.handoff)."""
    kwargs: dict[str, Any] = {
        "installation_id": installation_id, "repo": repo, "number": number,
        "head_sha": head_sha, "delivery_id": delivery_id, "fork": fork, "pushed": pushed,
        "hook_pull": hook_pull}
    job = get_current_job()
    if job is None or conn is not None or not job.id.endswith(first_look.SUFFIX):
        return _first_look(kwargs, conn, factory)
    conn = job.connection
    plan_id = job_id_for(delivery_id, "plan")

    def planned() -> bool:
        return bool(Job.exists(plan_id, connection=conn))

    tried: set[str] = set()  # by this job: one that failed here is left to its own job

    def others() -> int:
        return first_look.lead(conn, job, lambda peer: _first_look(peer, conn, factory),
                               factory or client_for, tried)

    if planned():
        return {"status": "planned already", "plan": plan_id}
    if first_look.claim(conn, job.id, job):
        try:
            result = _first_look(kwargs, conn, factory)
        finally:
            first_look.release(conn, job.id, job)
        others()
        return result
    # another job's leader has ours: help with the rest meanwhile, then see what it left
    if not first_look.wait_for_claim(conn, job, planned, others):
        return {"status": "planned already", "plan": plan_id}
    try:
        return _first_look(kwargs, conn, factory)
    finally:
        first_look.release(conn, job.id, job)


def _first_look(kw: dict[str, Any], conn: redis.Redis | None,
                factory: ClientFactory | None) -> dict[str, Any]:
    """Open the new head's check runs as `queued` (the jobs that complete them take them
    over), record who `pushed` it (jobs.release.record_push), then enqueue the plan. A
    transient GitHub error is retried (a run that landed is found, not opened twice); a
    lasting one is logged and the plan enqueued anyway (the jobs open their own runs)."""
    installation_id, repo, delivery_id = kw["installation_id"], kw["repo"], kw["delivery_id"]
    number, head_sha, pushed = kw["number"], kw["head_sha"], kw.get("pushed")
    with bound_delivery(delivery_id):
        ctx = job_context(installation_id, repo, delivery_id, conn, factory)
        plan_id = job_id_for(delivery_id, "plan")
        if Job.exists(plan_id, connection=ctx.conn):  # a retry after the plan was enqueued
            return {"status": "planned already", "plan": plan_id}
        opened: list[str] = []
        try:
            for name, job in expected_runs(ctx.conn, repo, bool(kw.get("fork"))):
                checks.open_queued(ctx.gh, ctx.conn, job_id_for(delivery_id, job), ctx.owner,
                                   ctx.name, name=name, head_sha=head_sha,
                                   title=QUEUED_TITLE[name],
                                   external_id=f"pr:{number}" if job == "audit" else None)
                opened.append(name)
        except Exception as exc:
            if is_transient(exc) and not last_try():
                raise  # it may have landed: the retry finds it (app.checks), then plans
            log.warning("could not open the check runs of %s#%s: %s", repo, number, exc)
        if pushed is not None:
            from jobs.release import record_push

            record_push(installation_id=installation_id, repo=repo, delivery_id=delivery_id,
                        number=number, head_sha=head_sha, conn=ctx.conn, **pushed)
        plan = {"installation_id": installation_id, "repo": repo,
                "delivery_id": delivery_id, "number": number, "head_sha": head_sha}
        if kw.get("hook_pull"):
            plan["hook_pull"] = kw["hook_pull"]
        enqueue(ctx.conn, delivery_id,
                JobSpec("plan", "jobs.planner.plan_pull_request", plan, Urgency.DEFAULT))
        return {"status": "opened", "runs": opened, "plan": plan_id}


def pull_closed(*, installation_id: int, repo: str, number: int, delivery_id: str,
                at: str | None = None, conn: redis.Redis | None = None) -> dict[str, Any]:
    """A closed PR, recorded for the plans still holding its webhook's PR: Redis only."""
    from app.context import current_redis

    mark_closed(conn or current_redis(), repo, number, at)
    return {"status": "recorded", "number": number}


def _close_opened(ctx: JobContext, job_id: str, name: str, head_sha: str, why: str) -> None:
    """Complete a run opened for `job_id` that this plan gives that job no reason to finish."""
    run_id = checks.opened_for_job(job_id, ctx.conn)
    if run_id is None:
        return
    checks.publish(ctx.gh, ctx.owner, ctx.name, name=name, head_sha=head_sha,
                   conclusion="skipped", title=why, summary=why, check_run_id=run_id)
    checks.forget_opened(ctx.conn, job_id)


def _current(ctx: JobContext, number: int, head_sha: str, hook_pull: bytes | None
             ) -> tuple[Any, list[dict[str, Any]]] | None:
    """The PR and its files if `head_sha` is still its open head, else None. The webhook's PR
    (`hook_pull`) is taken when the file list, read anyway, is of that very head and the PR
    was not closed since; otherwise the PR is read (app.handoff)."""
    webhook = webhook_pull(hook_pull, number, head_sha)
    if webhook is None or closed_since(ctx.conn, ctx.repo, number, webhook.updated_at):
        pr = ctx.current_pull(number, head_sha, "plan")
        return (pr, pull_files(ctx, number)) if pr is not None else None
    files = changed_files(ctx, number)
    if files_head(files) == head_sha:
        return ctx.take_pull(webhook, head_sha), files
    pr = ctx.current_pull(number, head_sha, "plan")  # a newer head, or no way to tell
    return (pr, files) if pr is not None else None


def plan_pull_request(
    *, installation_id: int, repo: str, number: int, head_sha: str, delivery_id: str,
    conn: redis.Redis | None = None, factory: ClientFactory | None = None,
    hook_pull: bytes | None = None,
) -> dict[str, Any]:
    with bound_delivery(delivery_id):
        ctx = job_context(installation_id, repo, delivery_id, conn, factory)
        if (current := _current(ctx, number, head_sha, hook_pull)) is None:
            for job, name in (("generate", PIPELINE_CHECK), ("audit", POLICY_CHECK)):
                _close_opened(ctx, job_id_for(delivery_id, job), name, head_sha,
                              "Superseded: a newer push has its own run")
            return {"status": "stale"}
        pr, files = current
        config = ctx.config
        if isinstance(config, ConfigError):
            report_config_error(ctx, head_sha, config)
            config = RepoConfig()
        ctx.conn.set(MODE_HINT.format(repo=repo.lower()), config.generate.mode.value,
                     ex=MODE_HINT_TTL)
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
        _settle_opened(ctx, specs, head_sha, the_plan)
        # a PR's later work goes before newer PRs' plans (app.queue: fair share)
        job_ids = [enqueue(ctx.conn, delivery_id, spec, at_front=True) for spec in specs]
        ctx.audit.record("plan", repo=repo, number=number, head_sha=head_sha,
                         files=[f["path"] for f in files], tier=classification.tier,
                         kinds=sorted(classification.kinds), jobs=job_ids,
                         config="error" if isinstance(ctx.config, ConfigError) else "ok")
        log.info("planned %s#%s at %s: tier %s, %d jobs", repo, number, head_sha[:7],
                 classification.tier, len(job_ids))
        return {"status": "planned", "tier": classification.tier, "jobs": job_ids}


def _settle_opened(ctx: JobContext, specs: list[JobSpec], head_sha: str, the_plan: Plan
                   ) -> None:
    """Match the runs `open_checks` opened to the plan: close those no planned job completes
    on this head (a docs-only change: no pipeline), open the pipeline run of a chained plan
    that has none yet (no urgent step: `ready_for_review`, a failed open)."""
    delivery = ctx.delivery_id
    names = {spec.name for spec in specs}
    chained = any(spec.kwargs.get("audit_after") for spec in specs)
    if "generate" not in names:
        step = next((a for a in the_plan.agents if a.agent == "pipeline_engineer"), None)
        _close_opened(ctx, job_id_for(delivery, "generate"), PIPELINE_CHECK, head_sha,
                      f"Nothing to generate: {step.reason if step else 'not planned'}")
    if "audit" not in names and not chained:
        _close_opened(ctx, job_id_for(delivery, "audit"), POLICY_CHECK, head_sha,
                      "Not audited: not planned")
    if chained and checks.opened_for_job(job_id_for(delivery, "generate"), ctx.conn) is None:
        checks.open_queued(ctx.gh, ctx.conn, job_id_for(delivery, "generate"), ctx.owner,
                           ctx.name, name=PIPELINE_CHECK, head_sha=head_sha,
                           title="Queued: generating the pipeline, then the audit")
