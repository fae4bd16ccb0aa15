"""The pipeline engineer on GitHub: read the PR head, plan, gate, deliver, report.

API calls on the commit path: the PR (is the head still current? its default branch), one
tarball of the head (no per-file contents calls), the head commit (its tree), one tree with
inline contents, one commit whose parent is the planned head, one ref update with
`force: false` — the optimistic lock: if the head moved, GitHub answers 422 and the work is
dropped (the new push has its own plan). Plus the config from the default branch and the
check run (started, then completed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import redis
from githubkit.exception import RequestFailed

from app import checks, generated
from app.config import ConfigError, GenerateConfig, GenerateIgnore, GenerateMode, PoliciesConfig
from app.context import JobContext, is_fork, job_context
from app.coordinator import glob_match
from app.files import Files
from app.findings import Finding, Mode, Severity
from app.gitdata import (
    create_commit,
    error_message,
    head_moved,
    push_to_branch,
    workflows_refused,
)
from app.github import ClientFactory
from app.handoff import claim_audit, last_try
from app.logs import bound_delivery
from app.queue import is_transient
from app.treecache import head_tree, remember_commit
from jobs.auditor.core import audit_files
from jobs.pipeline.memo import cached_validation
from jobs.pipeline.plan import GenerationPlan, gate, plan_generation
from jobs.pipeline.report import Outcome, check_output
from jobs.pipeline.validate import ValidationReport
from jobs.planner import audit_after_generation

log = logging.getLogger(__name__)
CHECK_NAME = "shipcrew / pipeline"
BRANCH_PREFIX = "shipcrew/pipeline/"
WORKFLOWS_DIR = ".github/workflows/"


def protect_unreadable(plan: GenerationPlan, unreadable: set[str]) -> GenerationPlan:
    """A path that exists as a binary or huge file is someone's: never create over it."""
    artifacts = [a.model_copy(update={"action": "skip",
                                      "reason": "exists and is not a text file shipcrew can read"})
                 if a.path in unreadable and a.action != "skip" else a for a in plan.artifacts]
    return GenerationPlan(stacks=plan.stacks, artifacts=artifacts)


def policy_gate(plan: GenerationPlan,
                config: PoliciesConfig) -> tuple[GenerationPlan, list[Finding]]:
    """The auditor's policies on what shipcrew owns: an enforced hard finding keeps its file
    (a whole chart for a chart file) out of the commit, like a validator error."""
    findings = audit_files(plan.generated, config=config).findings
    charts = {a.path.rsplit("/", 1)[0] + "/" for a in plan.artifacts
              if a.kind == "helm-chart" and a.path.endswith("/Chart.yaml")}
    failed: dict[str, str] = {}
    for f in findings:
        if f.severity is not Severity.HARD or f.mode is not Mode.ENFORCE or not f.path:
            continue
        chart = next((c for c in charts if f.path.startswith(c)), None)
        for a in plan.artifacts:
            if a.path == f.path or (chart and a.path.startswith(chart)):
                failed.setdefault(a.path, f"failed validation: policy {f.rule}: {f.message}")
    artifacts = [a.model_copy(update={"action": "skip", "reason": failed[a.path]})
                 if a.path in failed and a.action != "skip" else a for a in plan.artifacts]
    return GenerationPlan(stacks=plan.stacks, artifacts=artifacts), findings


def commit_message(plan: GenerationPlan, changes: Files) -> str:
    services = ", ".join(sorted({a.stack for a in plan.artifacts if a.path in changes}))
    lines = [f"- {p}" for p in sorted(changes)]
    return (f"Add CI/CD pipeline for {services} (shipcrew)\n\n"
            "Generated and validated by shipcrew's pipeline engineer:\n" + "\n".join(lines)
            + "\n")


def open_pipeline_pull(ctx: JobContext, pr: Any, head_sha: str, changes: Files,
                       message: str) -> tuple[str, int]:
    """Our own branch `shipcrew/pipeline/<branch>` (force-moved: only we write it) and one
    PR from it into the PR's branch, opened once and updated by later pushes."""
    branch = BRANCH_PREFIX + pr.head.ref
    sha = create_commit(ctx, head_sha, changes, message)
    try:
        ctx.gh.rest.git.create_ref(ctx.owner, ctx.name,
                                   data={"ref": f"refs/heads/{branch}", "sha": sha})
    except RequestFailed as exc:
        if exc.response.status_code != 422:
            raise
        ctx.gh.rest.git.update_ref(ctx.owner, ctx.name, f"heads/{branch}",
                                   data={"sha": sha, "force": True})
    existing = ctx.gh.rest.pulls.list(ctx.owner, ctx.name, head=f"{ctx.owner}:{branch}",
                                      base=pr.head.ref, state="open").parsed_data
    if existing:
        return sha, int(existing[0].number)
    created = ctx.gh.rest.pulls.create(ctx.owner, ctx.name, data={
        "title": f"CI/CD pipeline for {pr.head.ref} (shipcrew)", "head": branch,
        "base": pr.head.ref, "body": f"Generated for #{pr.number}.\n\n{message}"}).parsed_data
    return sha, int(created.number)


# ---------------------------------------------------------------------------------------
# Deciding what to do with a gated plan


BOT_AUTHORS = ("dependabot", "renovate")


def left_alone(pr: Any, ignore: GenerateIgnore) -> str | None:
    """Why shipcrew must not commit to this PR (it suggests instead), or None.

    Dependabot stops rebasing a PR once someone else commits to it; a draft is work in
    progress; `generate.ignore` names more."""
    author = pr.user.login if pr.user else ""
    if author.lower().endswith("[bot]") or (pr.user and pr.user.type == "Bot") or \
            author.lower().split("[")[0] in BOT_AUTHORS:
        return f"the pull request was opened by a bot (@{author})"
    if getattr(pr, "draft", False):
        return "the pull request is a draft"
    if author.lower() in {a.lower() for a in ignore.authors}:
        return f"generate.ignore.authors lists @{author}"
    labels = {lb.name for lb in pr.labels or []} & set(ignore.labels)
    if labels:
        return f"generate.ignore.labels lists `{sorted(labels)[0]}`"
    if any(glob_match(b, pr.head.ref) for b in ignore.branches):
        return f"generate.ignore.branches matches `{pr.head.ref}`"
    return None


def deliver(ctx: JobContext, pr: Any, head_sha: str, plan: GenerationPlan, mode: GenerateMode,
            fork: bool, hands_off: str | None = None, claim: bool = False) -> Outcome:
    """`claim`: the audit of our commit is chained (jobs.planner.audit_after_generation), so
    it is claimed before the branch moves: the commit's own `synchronize` then stays idle.
    Not for the partial commit without workflows: its outcome is "failed", the chain audits
    the opened head, and that commit's own `synchronize` must audit it."""
    changes = plan.changes
    failed = [a for a in plan.artifacts if a.reason.startswith("failed validation")]
    if not changes:
        if failed and mode is GenerateMode.COMMIT and not fork:
            return Outcome("failed", "failure", f"{len(failed)} generated files failed "
                           "validation; nothing committed")
        return Outcome("up_to_date", "success" if not failed else "neutral",
                       "Pipeline up to date" if plan.artifacts else "Nothing to generate")
    if fork or hands_off or mode is GenerateMode.SUGGEST:
        why = ("the pull request comes from a fork shipcrew cannot push to" if fork
               else hands_off or "generate.mode is suggest")
        return Outcome("suggested", "neutral", f"{len(changes)} files proposed",
                       notes=[f"Nothing committed: {why}. Add the files below to adopt them."],
                       suggested=changes)
    failure: checks.Conclusion = "failure" if failed else "success"
    message = commit_message(plan, changes)
    if mode is GenerateMode.PULL_REQUEST:
        sha, number = open_pipeline_pull(ctx, pr, head_sha, changes, message)
        return Outcome("pull_request", failure, f"Proposed {len(changes)} files in #{number}",
                       commit=sha, pull_number=number)
    try:
        sha = push_to_branch(ctx, pr.head.ref, head_sha, changes, message, _claimer(ctx, claim))
    except RequestFailed as exc:
        if head_moved(exc):
            return Outcome("superseded", "skipped", "Superseded: the branch moved",
                           notes=["The branch moved while shipcrew worked; nothing was "
                                  "committed. The new push gets its own run."])
        if not workflows_refused(exc):
            raise
        return without_workflows(ctx, pr, head_sha, plan, changes, error_message(exc))
    return Outcome("committed", failure, f"Committed {len(changes)} files in {sha[:7]}",
                   commit=sha)


def _claimer(ctx: JobContext, claim: bool) -> Callable[[str], None] | None:
    return (lambda sha: claim_audit(ctx.conn, ctx.repo, sha)) if claim else None


def without_workflows(ctx: JobContext, pr: Any, head_sha: str, plan: GenerationPlan,
                      changes: Files, refusal: str) -> Outcome:
    """GitHub refuses workflow files from an App without `workflows: write`: commit the
    rest, propose the workflows, and fail so an admin sees what to grant."""
    workflows = {p: t for p, t in changes.items() if p.startswith(WORKFLOWS_DIR)}
    rest = {p: t for p, t in changes.items() if p not in workflows}
    note = (f"GitHub refused the workflow files: {refusal}. Grant the App the `workflows` "
            "(read and write) permission, or add the workflow files below yourself.")
    outcome = Outcome("failed", "failure", "Missing permission: workflows",
                      notes=[note], suggested=workflows)
    if rest:
        try:
            outcome.commit = push_to_branch(ctx, pr.head.ref, head_sha, rest,
                                            commit_message(plan, rest))
        except RequestFailed as exc:
            if not head_moved(exc):
                raise
            outcome.notes.append("The branch moved meanwhile; nothing was committed.")
    return outcome


# ---------------------------------------------------------------------------------------
# The job


def policies_config(ctx: JobContext) -> PoliciesConfig:
    return PoliciesConfig() if isinstance(ctx.config, ConfigError) else ctx.config.policies


def effective_config(ctx: JobContext, artifacts: list[str] | None) -> GenerateConfig:
    config = ctx.config
    # A broken config was reported by the planner as `shipcrew / config`: run on defaults.
    generate = GenerateConfig() if isinstance(config, ConfigError) else config.generate
    if artifacts is not None:
        generate = GenerateConfig.model_validate({**generate.model_dump(),
                                                  "artifacts": artifacts})
    return generate


def generate_for_pull_request(
    *, installation_id: int, repo: str, delivery_id: str, number: int, head_sha: str,
    artifacts: list[str] | None = None, conn: redis.Redis | None = None,
    factory: ClientFactory | None = None, handed: dict[str, Any] | None = None,
    audit_after: bool = False,
) -> dict[str, Any]:
    """Generate what the PR's head is missing and deliver it per `generate.mode`;
    `audit_after`: then enqueue the audit of the head it leaves (jobs.planner)."""
    with bound_delivery(delivery_id):
        ctx = job_context(installation_id, repo, delivery_id, conn, factory, handed)
        if (pr := ctx.current_pull(number, head_sha, "generate", child_ok=True)) is None:
            if (queued := checks.opened_for_job()) is not None:  # the planner's queued run
                checks.publish(ctx.gh, ctx.owner, ctx.name, name=CHECK_NAME,
                               head_sha=head_sha, conclusion="skipped",
                               title="Superseded: a newer push has its own run",
                               summary="Nothing was generated for this commit.",
                               check_run_id=queued)
            return {"status": "stale"}
        fork = is_fork(pr, repo)
        run_id: int | None = None
        try:
            config = effective_config(ctx, artifacts)
            if config.mode is GenerateMode.OFF:  # said once, in the planner's plan: no run
                ctx.audit.record("generate", repo=repo, number=number, head_sha=head_sha,
                                 status="off")
                return {"status": "off"}
            run_id = checks.start(ctx.gh, ctx.owner, ctx.name, name=CHECK_NAME,
                                  head_sha=head_sha,
                                  title="Detecting stacks and generating the pipeline")
            plan, report, findings, outcome = _generate(ctx, pr, head_sha, config, fork,
                                                        audit_after)
        except Exception as exc:
            if audit_after and (not is_transient(exc) or last_try()):
                audit_after_generation(ctx, number, head_sha)
            if is_transient(exc):
                raise
            return _fail(ctx, number, head_sha, run_id, exc)
        if audit_after and outcome.status != "superseded":  # a new push has its own plan
            committed = outcome.status == "committed" and outcome.commit
            audit_after_generation(ctx, number, head_sha, outcome.commit if committed else None,
                                   plan.changes)
        title, summary, text = check_output(plan, report, outcome, config.mode, fork,
                                            findings)
        checks.publish(ctx.gh, ctx.owner, ctx.name, name=CHECK_NAME, head_sha=head_sha,
                       conclusion=outcome.conclusion, title=title, summary=summary, text=text,
                       check_run_id=run_id)
        if outcome.status == "committed":
            generated.record(ctx.conn, repo, plan.changes)
        if outcome.status == "committed" and outcome.commit:
            # The PR now shows our commit as its head, and GitHub's checks tab only shows
            # the head's runs: the summary goes there too.
            checks.publish(ctx.gh, ctx.owner, ctx.name, name=CHECK_NAME,
                           head_sha=outcome.commit, conclusion=outcome.conclusion,
                           title=title, summary=summary, text=text)
        ctx.audit.record("generate", repo=repo, number=number, head_sha=head_sha,
                         status=outcome.status, mode=config.mode.value, fork=fork,
                         commit=outcome.commit, pull=outcome.pull_number,
                         files=sorted(plan.changes),
                         failed=[a.path for a in plan.artifacts
                                 if a.reason.startswith("failed validation")])
        log.info("pipeline %s#%s at %s: %s", repo, number, head_sha[:7], outcome.status)
        return {"status": outcome.status, "commit": outcome.commit,
                "files": sorted(plan.changes), "check_run": run_id}


def _generate(ctx: JobContext, pr: Any, head_sha: str, config: GenerateConfig, fork: bool,
              claim: bool = False,
              ) -> tuple[GenerationPlan, ValidationReport, list[Finding], Outcome]:
    files, present = head_tree(ctx, head_sha)
    plan = plan_generation(files, config, default_branch=pr.base.repo.default_branch,
                           repo_name=ctx.repo)
    plan = protect_unreadable(plan, present - files.keys())
    plan, report = gate(plan, cached_validation(ctx.conn))
    plan, findings = policy_gate(plan, policies_config(ctx))
    outcome = deliver(ctx, pr, head_sha, plan, config.mode, fork, left_alone(pr, config.ignore),
                      claim)
    if outcome.status == "committed" and outcome.commit:
        remember_commit(ctx, outcome.commit, (files, present), plan.changes)
    return plan, report, findings, outcome


def _fail(ctx: JobContext, number: int, head_sha: str, run_id: int | None,
          exc: Exception) -> dict[str, Any]:
    error = f"{type(exc).__name__}: {exc}"[:2000]
    if isinstance(exc, RequestFailed):
        error = f"GitHub answered {exc.response.status_code}: {error_message(exc)}"
    ctx.audit.record("generate_error", repo=ctx.repo, number=number, head_sha=head_sha,
                     error=error)
    checks.publish(ctx.gh, ctx.owner, ctx.name, name=CHECK_NAME, head_sha=head_sha,
                   conclusion="failure", title="shipcrew could not generate the pipeline",
                   summary=f"Nothing was committed.\n\n```\n{error}\n```", check_run_id=run_id)
    log.warning("pipeline %s#%s at %s failed: %s", ctx.repo, number, head_sha[:7], error)
    return {"status": "error", "error": error}
