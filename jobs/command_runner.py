"""The `/crew` command runner: one job per comment, one runner per command, wired in RUNNERS.

A comment gets a 👀 reaction at once; each command in it gets one reply comment, posted as
"working" and then updated in place with the outcome (a retried job finds its reply again
through Redis). Authorization is `app.command_parser.authorize` with the facts read from GitHub:
the actor's repository role, approver-team membership, PR author and last pusher.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

import redis

from app import checks, comments, deadletter
from app.command_parser import (
    TEAM_COMMANDS,
    Command,
    CommandName,
    ParseResult,
    authorize,
    help_text,
    parse_comment,
)
from app.config import ConfigError, RepoConfig
from app.context import JobContext, job_context
from app.coordinator import Classification, plan
from app.environments import setup_reply
from app.github import ClientFactory, own_identity
from app.logs import bound_delivery
from app.queue import JobSpec, Urgency, enqueue
from app.settings import get_settings
from jobs.auditor.explain import explain
from jobs.auditor.waivers import republish
from jobs.release import evidence
from jobs.release import store as gate_store
from jobs.release.dispatch import dispatch
from jobs.release.gates import Approval, GateDecision, Waiver
from jobs.release.github import reevaluate_pending
from jobs.release.heads import RETRY, Binding, bind_head, named_sha
from jobs.release.history import in_environment, render_history
from jobs.release.rollback import rollback
from jobs.release.store import GateStore, Push

log = logging.getLogger(__name__)
REPLY_MARKER = "<!-- shipcrew:reply {comment}:{line} -->"
STATE_MARKS = {"approved": "✅", "rejected": "❌", "pending": "⏳"}


@dataclass
class Run:
    """One command being run: the facts its runner and its authorization need, read lazily
    so `/crew help` costs no API call."""

    ctx: JobContext
    store: GateStore
    config: RepoConfig
    pr: evidence.PullInfo
    actor: str
    command: Command
    comment_id: int
    said_at: datetime | None = None  # the comment's `created_at`: what it is about

    @cached_property
    def permission(self) -> str:
        return evidence.permission_of(self.ctx, self.actor)

    @cached_property
    def teams(self) -> list[str]:
        configured = list(self.config.commands.approver_teams)
        for env in self.config.environments.values():
            configured += env.approvers.teams if env.approvers else []
        return evidence.teams_of(self.ctx, self.actor, configured) if configured else []

    @cached_property
    def classification(self) -> Classification:
        return evidence.classify_pulls(self.ctx, [self.pr], self.pr.head_sha, self.config)

    @cached_property
    def release_tier(self) -> str:
        """The risk of releasing the head to the command's environment, as its gate sees it."""
        return evidence.classify_release(self.ctx, self.pr.head_sha, self.env,
                                         self.store.history(), self.config).tier

    @cached_property
    def last_pusher(self) -> str:
        return evidence.last_pusher(self.ctx, self.pr.head_sha)

    @cached_property
    def pushes(self) -> list[Push]:
        return self.store.pushes([self.pr.number])

    @cached_property
    def pushed(self) -> bool:
        """Whether the actor made the head or any earlier head of the PR (webhook senders)."""
        who = self.actor.lower()
        return who == self.last_pusher.lower() or any(p.by.lower() == who for p in self.pushes)

    def bind(self, named: str | None = None, retry: str = RETRY) -> Binding:
        return bind_head(self.pushes, self.pr.head_sha, self.said_at, named, retry)

    @property
    def env(self) -> str:
        return self.command.environment or ""


def _decisions(decided: list[GateDecision]) -> str:
    if not decided:
        return ""
    parts = []
    for d in decided:
        parts.append(f"\n\n{STATE_MARKS[d.state]} `{d.environment}` gate for `{d.sha[:7]}`: "
                     f"**{d.state}**\n" + "\n".join(f"- {r}" for r in d.reasons))
    return "".join(parts)


def run_help(run: Run) -> str:
    return help_text(get_settings().app_slug or "shipcrew")


def run_plan(run: Run) -> str:
    known = evidence.environments(run.ctx)
    return plan(run.classification, run.config, is_fork=run.pr.is_fork, event="plan",
                known_environments=known).render_markdown()


def _enqueue(run: Run, name: str, func: str, **extra: Any) -> str:
    kwargs = {"installation_id": run.ctx.installation_id, "repo": run.ctx.repo,
              "delivery_id": run.ctx.delivery_id, "number": run.pr.number,
              "head_sha": run.pr.head_sha, **extra}
    spec = JobSpec(f"{name}-{run.comment_id}-{run.command.line}", func, kwargs, Urgency.DEFAULT)
    return enqueue(run.ctx.conn, run.ctx.delivery_id, spec)


def run_generate(run: Run) -> str:
    artifacts = [run.command.artifact] if run.command.artifact else list(
        run.config.generate.artifacts)
    _enqueue(run, "generate", "jobs.pipeline.generate_for_pull_request", artifacts=artifacts)
    return (f"Queued: the pipeline engineer regenerates {', '.join(artifacts)} for "
            f"`{run.pr.head_sha[:7]}`; it reports on the PR when done.")


def run_audit(run: Run) -> str:
    _enqueue(run, "audit", "jobs.auditor.audit_pull_request")
    return (f"Queued: the auditor re-evaluates `{run.pr.head_sha[:7]}`; the verdict appears "
            "as the `shipcrew / policy` check run.")


def run_explain(run: Run) -> str:
    return explain(run.command.rule or "")


def run_approve(run: Run) -> str:
    # Bound to what was reviewed: the head when the comment was written, or the named commit.
    bound = run.bind(named_sha(run.command.note))
    if bound.sha is None:
        return f"🚫 {bound.refusal}"
    sha = bound.sha
    approval = Approval(user=run.actor, environment=run.env, permission=run.permission,
                        teams=run.teams, at=gate_store.clock(), note=run.command.note, sha=sha)
    run.store.add_approval(run.pr.number, approval)
    run.ctx.audit.record("approval", repo=run.ctx.repo, number=run.pr.number, who=run.actor,
                         environment=run.env, sha=sha, note=run.command.note,
                         permission=run.permission)
    decided = reevaluate_pending(run.ctx, run.store, sha, run.env,
                                 trigger=f"approval by @{run.actor}")
    note = f" (“{run.command.note}”)" if run.command.note else ""
    text = f"Approval of `{sha[:7]}` for `{run.env}` recorded{note}."
    if not decided:
        text += f" No deployment to `{run.env}` is waiting; it counts when one is requested."
    return text + _decisions(decided)


def run_deploy(run: Run) -> str:
    if run.pr.is_fork:
        return ("Cannot deploy: the head branch lives in a fork, and a workflow can only be "
                "dispatched on a branch of this repository.")
    result = dispatch(run.ctx, run.pr.head_ref, run.env, run.pr.head_sha)
    if not result.ok:
        return f"Deployment not started: {result.message}."
    return (f"Deploying `{run.pr.head_sha[:7]}` to `{run.env}`: {result.message}. "
            "The release manager gates it like any deployment.")


def run_rollback(run: Run) -> str:
    records = in_environment(run.store.history(), run.env)
    current = records[-1].sha if records else ""
    return rollback(run.ctx, run.store, run.env, current, by=run.actor,
                    reason=f"/crew rollback by @{run.actor}")


def run_why(run: Run) -> str:
    decisions = run.store.decisions(run.pr.number)
    history = run.store.history()
    wanted = run.command.environment
    envs = [wanted] if wanted else list(dict.fromkeys(
        [d.environment for d in decisions] + [r.environment for r in history]))
    if not envs:
        return "No deployment of this PR has been requested and none is recorded for the repo."
    parts = []
    for env in envs:
        last = next((d for d in reversed(decisions)
                     if d.environment.lower() == env.lower()), None)
        if last is None:
            head = f"#### `{env}`\n\nNo gate decision for this PR yet."
        else:
            head = (f"#### `{env}`\n\nLast decision: {STATE_MARKS[last.state]} **{last.state}** "
                    f"for `{last.sha[:7]}` at {last.at:%Y-%m-%d %H:%M %Z} ({last.trigger})\n\n"
                    + "\n".join(f"- {r}" for r in last.reasons))
        parts.append(head + "\n\n" + render_history(history, env))
    return "\n\n".join(parts)


def run_setup(run: Run) -> str:
    settings = get_settings()
    return setup_reply(run.ctx.gh, run.ctx.owner, run.ctx.name, run.config,
                       app_id=int(settings.app_id or 0), app_slug=settings.app_slug or "")


def run_waive(run: Run) -> str:
    rule = run.command.rule or ""
    bound = run.bind(retry="waive again once the new head is audited")
    if bound.sha is None:
        return f"🚫 {bound.refusal}"
    sha = bound.sha
    # Bound to the findings it was given for: a later head with new findings is not covered.
    recorded = (run.store.policy_verdict(sha) or {}).get("fingerprints")
    findings = recorded.get(rule) if isinstance(recorded, dict) else None
    waiver = Waiver(rule=rule, user=run.actor, reason=run.command.note, at=gate_store.clock(),
                    sha=sha, findings=findings if isinstance(findings, list) else None)
    run.store.add_waiver(run.pr.number, waiver)
    run.ctx.audit.record("waiver", repo=run.ctx.repo, number=run.pr.number, who=run.actor,
                         rule=rule, reason=run.command.note, sha=sha, findings=waiver.findings)
    # The check run shows only waivers that count everywhere: given for this commit, by
    # someone who neither authored nor pushed to the PR (an environment's `allow_author` is
    # the gate's business, not the check run's).
    parties = {run.pr.author.lower(), run.last_pusher.lower(), *(p.by.lower() for p in run.pushes)}
    republish(run.ctx, sha, [w for w in run.store.waivers([run.pr.number])
                             if w.sha == sha and w.user.lower() not in parties])
    decided = reevaluate_pending(run.ctx, run.store, sha,
                                 trigger=f"waiver of {rule} by @{run.actor}")
    text = f"Waiver of `{rule}` for `{sha[:7]}` recorded: “{run.command.note}”."
    if run.actor.lower() == run.pr.author.lower() or run.pushed:
        text += (f" @{run.actor} authored or pushed to this pull request, so the waiver counts "
                 "only where `environments.<env>.allow_author` is set (separation of duties).")
    return text + _decisions(decided)


def run_retry(run: Run) -> str:
    job_id = deadletter.last_dead(run.ctx.conn, run.ctx.repo, run.pr.number)
    job = deadletter.retry_job(run.ctx.conn, job_id, repo=run.ctx.repo) if job_id else None
    if job is None:
        return "Nothing to retry: no job of this pull request has failed for good."
    run.ctx.audit.record("retry", repo=run.ctx.repo, number=run.pr.number, who=run.actor,
                         job=job.id)
    return f"Retrying `{job.id.rpartition('--')[2]}` (job `{job.id}`) with fresh retries."


RUNNERS: dict[CommandName, Callable[[Run], str]] = {
    CommandName.HELP: run_help, CommandName.PLAN: run_plan, CommandName.GENERATE: run_generate,
    CommandName.AUDIT: run_audit, CommandName.EXPLAIN: run_explain,
    CommandName.APPROVE: run_approve, CommandName.DEPLOY: run_deploy,
    CommandName.ROLLBACK: run_rollback, CommandName.WHY: run_why, CommandName.WAIVE: run_waive,
    CommandName.SETUP: run_setup,
    CommandName.RETRY: run_retry,
}


def _authorized(run: Run) -> str | None:
    """None when allowed, else the refusal (naming the rule that refused)."""
    if run.command.name is CommandName.HELP:
        return None
    approve = run.command.name is CommandName.APPROVE
    decision = authorize(
        run.command, permission=run.permission, actor=run.actor, config=run.config,
        is_author=run.actor.lower() == run.pr.author.lower(),
        is_last_pusher=approve and run.pushed,
        teams=set(run.teams) if run.command.name in TEAM_COMMANDS else set(),
        risk_tier=run.release_tier if approve else "low",
    )
    run.ctx.audit.record("authorization", repo=run.ctx.repo, number=run.pr.number,
                         who=run.actor, command=run.command.name.value,
                         allowed=decision.allowed, reason=decision.reason)
    return None if decision.allowed else decision.reason


def _reply(run: Run, text: str) -> None:
    # A reply that opens with a heading needs its own line, or Markdown shows the hashes.
    sep = "\n\n" if text.startswith("#") else " "
    # The marker lets a retry find a reply its earlier attempt posted but did not record.
    marker = REPLY_MARKER.format(comment=run.comment_id, line=run.command.line)
    body = f"> `{run.command.text.replace('`', '')}`\n\n@{run.actor}{sep}{text}\n\n{marker}"
    reply_id = run.store.reply_id(run.comment_id, run.command.line)
    if reply_id is None or not comments.update(run.ctx, reply_id, body):
        run.store.set_reply_id(run.comment_id, run.command.line,
                               comments.post_once(run.ctx, run.pr.number, marker, body))


def run_command(run: Run) -> str:
    _reply(run, f"⏳ working on `/crew {run.command.name.value}`…")
    refusal = _authorized(run)
    text = f"🚫 {refusal}" if refusal else RUNNERS[run.command.name](run)
    _reply(run, text)
    return text


def handle_comment(
    *, installation_id: int, repo: str, delivery_id: str, number: int, comment_id: int,
    body: str, author: str, created_at: str | None = None, conn: redis.Redis | None = None,
    factory: ClientFactory | None = None,
) -> dict[str, Any]:
    with bound_delivery(delivery_id):
        me = None if get_settings().app_slug else own_identity()
        parsed = parse_comment(body, get_settings().app_slug or (me.slug if me else "shipcrew"))
        if parsed.ignore:
            return {"status": "no command"}
        ctx = job_context(installation_id, repo, delivery_id, conn, factory)
        store = GateStore(ctx.conn, ctx.repo)
        # A comment is acted on once: a delivery sent again under a new id (its signature
        # does not cover the id) changes nothing.
        if not store.claim_comment(comment_id, delivery_id):
            ctx.audit.record("comment_replayed", repo=repo, comment_id=comment_id,
                             delivery=delivery_id)
            return {"status": "already handled"}
        comments.react(ctx, comment_id, "eyes")
        said_at = datetime.fromisoformat(created_at.replace("Z", "+00:00")) if created_at \
            else None
        return _run_all(ctx, store, parsed, number, comment_id, author, said_at)


def _run_all(ctx: JobContext, store: GateStore, parsed: ParseResult, number: int,
             comment_id: int, author: str, said_at: datetime | None) -> dict[str, Any]:
    pr = evidence.pull_info(ctx, number)
    if pr is None:
        return {"status": "no such pull request"}
    if parsed.errors:
        _reply(Run(ctx, store, RepoConfig(), pr, author,
                   Command(name=CommandName.HELP, line=0, text="/crew"), comment_id),
               parsed.reply())
    config = ctx.config
    results: list[dict[str, str]] = []
    for command in parsed.commands:
        run = Run(ctx, store, config if isinstance(config, RepoConfig) else RepoConfig(),
                  pr, author, command, comment_id, said_at)
        if isinstance(config, ConfigError) and command.name is not CommandName.HELP:
            text = ("cannot run this: `.github/shipcrew.yml` on the default branch is "
                    f"invalid.\n\n```\n{config.summary()}\n```")
            _reply(run, text)
        else:
            text = run_command(run)
        results.append({"command": command.name.value, "reply": text})
    log.info("ran %d command(s) on %s#%s", len(results), ctx.repo, number)
    return {"status": "done", "commands": results}


def retry_from_check_run(
    *, installation_id: int, repo: str, delivery_id: str, check_run_id: int, head_sha: str,
    identifier: str, requester: str, conn: redis.Redis | None = None,
    factory: ClientFactory | None = None,
) -> dict[str, Any]:
    """The Retry button of a dead letter's check run (GitHub shows buttons only to people
    with write access): run the job named by the run's external_id again."""
    with bound_delivery(delivery_id):
        ctx = job_context(installation_id, repo, delivery_id, conn, factory)
        run = ctx.gh.rest.checks.get(ctx.owner, ctx.name, check_run_id).parsed_data
        job_id = checks.job_of(str(run.external_id or ""))
        job = deadletter.retry_job(ctx.conn, job_id, repo=repo) if job_id else None
        ctx.audit.record("retry", repo=repo, head_sha=head_sha, who=requester,
                         job=job.id if job else None, check_run_id=check_run_id)
        return {"status": "requeued" if job else "nothing to retry", "job": job_id}
