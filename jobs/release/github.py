"""Release manager: answer GitHub's deployment protection rule from evidence.

`on_protection_rule` is the job for `deployment_protection_rule.requested`. It gathers the
evidence (`jobs.release.evidence` from GitHub, `jobs.release.store` from Redis), lets the pure
`jobs.release.gates.decide` judge it, and answers: approved or rejected with the reasons, or a
status report while the gate is pending. A pending gate stays in Redis and is judged again
on an approval or waiver, a check run or workflow run completing (`reevaluate`), a
successful predecessor deployment, and at the time a soak or held freeze ends (`recheck`,
scheduled with RQ's `enqueue_at`). Every decision goes to the audit trail and the PR's
release packet.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from githubkit.exception import RequestFailed
from rq import Queue

from app import comments
from app.config import ConfigError, RepoConfig
from app.context import JobContext, job_context
from app.coordinator import Classification, plan, riskier
from app.github import AppIdentity, ClientFactory, own_identity
from app.logs import bound_delivery
from app.queue import RETRY, Urgency, job_id_for
from jobs.release import evidence, reviews, trunk
from jobs.release import store as gate_store
from jobs.release.decide import decide
from jobs.release.dispatch import find_delivery_workflow
from jobs.release.gates import ApprovalGate, Evidence, GateDecision, GateResult, gates_for
from jobs.release.packet import MARKER, PacketEnvironment, ReleasePacket, render_packet
from jobs.release.store import DecisionRecord, GatedDeployment, GateStore, PendingGate

log = logging.getLogger(__name__)


def on_protection_rule(
    *, installation_id: int, repo: str, delivery_id: str, environment: str, sha: str,
    ref: str, run_id: int, pull_numbers: list[int], deployment_id: int | None = None,
    conn: redis.Redis | None = None, factory: ClientFactory | None = None,
) -> dict[str, Any]:
    with bound_delivery(delivery_id):
        ctx = job_context(installation_id, repo, delivery_id, conn, factory)
        store = GateStore(ctx.conn, repo)
        gate = store.gate(run_id, environment) or PendingGate(
            installation_id=installation_id, repo=repo, run_id=run_id, environment=environment,
            sha=sha, ref=ref, pull_numbers=pull_numbers, deployment_id=deployment_id,
            created_at=gate_store.clock())
        return _summary(evaluate(ctx, store, gate, trigger="deployment requested"))


def reevaluate(
    *, installation_id: int, repo: str, delivery_id: str, sha: str,
    environment: str | None = None,
    conn: redis.Redis | None = None, factory: ClientFactory | None = None,
) -> dict[str, Any]:
    """A check run or workflow run completed on `sha`: judge its pending gates again."""
    with bound_delivery(delivery_id):
        ctx = job_context(installation_id, repo, delivery_id, conn, factory)
        store = GateStore(ctx.conn, repo)
        if not store.gates(sha=sha, environment=environment):
            return {"status": "nothing pending"}  # the common case costs no GitHub call
        decided = reevaluate_pending(ctx, store, sha, environment, trigger="checks changed")
        return {"status": "reevaluated", "decisions": [_summary(d) for d in decided]}


def recheck(
    *, installation_id: int, repo: str, delivery_id: str, run_id: int, environment: str,
    conn: redis.Redis | None = None, factory: ClientFactory | None = None,
) -> dict[str, Any]:
    """Scheduled for when a soak or a held freeze should be over."""
    with bound_delivery(delivery_id):
        ctx = job_context(installation_id, repo, delivery_id, conn, factory)
        store = GateStore(ctx.conn, repo)
        gate = store.gate(run_id, environment)
        if gate is None:
            return {"status": "already answered"}
        return _summary(evaluate(ctx, store, gate, trigger="scheduled re-check"))


def reevaluate_pending(
    ctx: JobContext, store: GateStore, sha: str, environment: str | None = None,
    trigger: str = "",
) -> list[GateDecision]:
    return [evaluate(ctx, store, g, trigger) for g in store.gates(sha=sha, environment=environment)]


def _summary(decision: GateDecision) -> dict[str, Any]:
    return {"state": decision.state, "environment": decision.environment, "sha": decision.sha,
            "reasons": decision.reasons}


class _Gathered:
    """Evidence plus what the packet shows besides it."""

    def __init__(self, ev: Evidence, gates: list[Any], numbers: list[int],
                 pulls: list[evidence.PullInfo], classification: Classification,
                 known: set[str]) -> None:
        self.evidence, self.gates, self.numbers = ev, gates, numbers
        self.pulls, self.classification, self.known = pulls, classification, known
        self.rejections: list[reviews.Rejection] = []
        self.rollback: str | None = None  # what a rollback bypassed


def gather(ctx: JobContext, store: GateStore, gate: PendingGate, config: RepoConfig,
           me: AppIdentity) -> _Gathered:
    found = trunk.origin(ctx, gate, config)  # a PR head, or a merge commit on a branch
    numbers = sorted({p.number for p in found.packets} | set(gate.pull_numbers))
    history = store.history()
    # The riskier of two readings: the change's own (a PR's diff, or what a merge commit
    # inherits) and what the deployed commit changes relative to what runs in the environment.
    classification = riskier(found.classification, evidence.classify_release(
        ctx, gate.sha, gate.environment, history, config))
    known = evidence.environments(ctx) | {gate.environment}
    runs = evidence.check_runs(ctx, gate.sha)
    recorded = store.policy_verdict(gate.sha)
    verdict, failures = evidence.policy_verdict(runs, recorded, own_app_id=me.id)
    fingerprints = (recorded or {}).get("fingerprints")
    gates = gates_for(gate.environment, config, classification.tier, known)
    teams = [t for g in gates if isinstance(g, ApprovalGate) for t in g.teams + g.approver_teams]
    native, rejections = reviews.native_reviews(ctx, gate.run_id, gate.sha, teams)
    ev = Evidence(
        sha=gate.sha, environment=gate.environment, tier=classification.tier,
        pr_author=found.author, last_pusher=found.pusher,
        pushers=pushers(store, numbers, me), own_app_id=me.id,
        check_runs=runs, policy_verdict=verdict, policy_failures=failures,
        policy_findings=fingerprints if isinstance(fingerprints, dict) else None,
        deployments=history, approvals=store.approvals(found.numbers) + native,
        waivers=store.waivers(found.numbers), now=gate_store.clock(), same_as=found.same_as,
    )
    skipped = None
    if trunk.rollback_of(history, gate.environment, gate.sha):
        gates, skipped = trunk.bypass(gates, gate.environment, config)
    out = _Gathered(ev, gates, numbers, found.packets, classification, known)
    out.rejections, out.rollback = rejections, skipped
    return out


def pushers(store: GateStore, numbers: list[int], me: AppIdentity) -> list[str]:
    """Everyone but our bot who made a head of these PRs (recorded from webhook senders)."""
    found = {p.by for p in store.pushes(numbers)}
    return sorted(u for u in found if u.lower() != me.bot_login.lower())


def _refused(gate: PendingGate, kind: str, reason: str, state: str = "rejected") -> GateDecision:
    return GateDecision(
        state=state, environment=gate.environment, sha=gate.sha,  # type: ignore[arg-type]
        results=[GateResult(kind=kind, state="failed" if state == "rejected" else "pending",
                            reason=reason)])


def evaluate(ctx: JobContext, store: GateStore, gate: PendingGate, trigger: str) -> GateDecision:
    config = ctx.config
    gathered: _Gathered | None = None
    me = own_identity()
    if isinstance(config, ConfigError):
        # Fail closed: rules that cannot be read must not let a deployment through.
        decision = _refused(gate, "config", f"config error: {config.summary()[:600]}")
    elif me is None:
        # Whose check runs are ours is only known with our App id: never guess.
        decision = _refused(gate, "identity", "identity: shipcrew cannot confirm its own App "
                            "(GET /app failed); nothing is gated until it can", "pending")
    else:
        gathered = gather(ctx, store, gate, config, me)
        decision = reviews.with_rejections(decide(gathered.gates, gathered.evidence),
                                           gathered.rejections)
        if gathered.rollback is not None:
            decision = trunk.mark_rollback(decision, gathered.rollback)
    numbers = gathered.numbers if gathered else gate.pull_numbers
    answered = _answer(ctx, store, gate, decision)
    if answered and decision.state == "approved" and gate.deployment_id is not None:
        store.add_gated(GatedDeployment(deployment_id=gate.deployment_id, run_id=gate.run_id,
                                        environment=gate.environment, sha=gate.sha))
    record = DecisionRecord(environment=gate.environment, sha=gate.sha, state=decision.state,
                            reasons=decision.reasons, at=gate_store.clock(), run_id=gate.run_id,
                            trigger=trigger)
    # GitHub has failed a job rejected in its own dialog: our late answer is refused, but
    # the decision stands and is shown.
    ended = gathered is not None and bool(gathered.rejections) and decision.state == "rejected"
    if answered or decision.state == "pending" or ended:
        store.add_decision(numbers, record)
    ev = gathered.evidence if gathered else None
    ctx.audit.record(
        "gate_decision", repo=ctx.repo, who="shipcrew", environment=gate.environment,
        sha=gate.sha, run_id=gate.run_id, state=decision.state, answered=answered,
        trigger=trigger, reasons=decision.reasons, pulls=numbers,
        evidence=None if ev is None else {
            "tier": ev.tier, "pr_author": ev.pr_author, "last_pusher": ev.last_pusher,
            "pushers": ev.pushers,
            "checks": {r.name: r.conclusion or r.status for r in ev.check_runs},
            "policy": ev.policy_verdict.value if ev.policy_verdict else None,
            "policy_failures": ev.policy_failures,
            "approvals": [a.user for a in ev.approvals if a.environment.lower()
                          == gate.environment.lower()],
            "waivers": [w.rule for w in ev.waivers],
        },
    )
    if gathered is not None and isinstance(config, RepoConfig):
        update_packets(ctx, store, gathered, config)
    return decision


def _answer(ctx: JobContext, store: GateStore, gate: PendingGate, decision: GateDecision) -> bool:
    """Tell GitHub. False when GitHub will not take the answer (already decided elsewhere,
    the run was cancelled): then the gate is dropped, as waiting longer cannot help."""
    body: dict[str, Any] = {"environment_name": gate.environment,
                            "comment": decision.comment()}
    if decision.state == "pending":
        text = body["comment"]
        if text != gate.last_report and gate.reports < gate_store.MAX_REPORTS:
            if not _post(ctx, store, gate, body):
                return False
            gate.reports, gate.last_report = gate.reports + 1, text
        store.save_gate(gate)
        if decision.next_check_at is not None:
            _schedule(ctx, gate, decision)
        return True
    body["state"] = decision.state
    ok = _post(ctx, store, gate, body)
    store.drop_gate(gate)
    return ok


def _post(ctx: JobContext, store: GateStore, gate: PendingGate, body: dict[str, Any]) -> bool:
    try:
        ctx.gh.rest.actions.review_custom_gates_for_run(  # type: ignore[call-overload]
            ctx.owner, ctx.name, gate.run_id, data=body)
    except RequestFailed as exc:
        status = exc.response.status_code
        if status >= 500 or status == 429:
            raise
        ctx.audit.record("gate_answer_refused", repo=ctx.repo, run_id=gate.run_id,
                         environment=gate.environment, status=status,
                         message=exc.response.text[:500])
        store.drop_gate(gate)
        return False
    return True


def _schedule(ctx: JobContext, gate: PendingGate, decision: GateDecision) -> None:
    when = decision.next_check_at
    assert when is not None
    job_id = job_id_for(f"recheck-{gate.run_id}-{gate.environment}",
                        str(int(when.timestamp())))
    Queue(Urgency.URGENT.value, connection=ctx.conn).enqueue_at(
        when, "jobs.release.recheck", job_id=job_id, retry=RETRY,
        kwargs={"installation_id": gate.installation_id, "repo": gate.repo,
                "delivery_id": f"{ctx.delivery_id}-recheck", "run_id": gate.run_id,
                "environment": gate.environment})


def update_packets(ctx: JobContext, store: GateStore, g: _Gathered, config: RepoConfig) -> None:
    if not g.pulls:
        return
    found = find_delivery_workflow(ctx, ctx.default_branch)
    history = store.history()
    for pr in g.pulls:
        the_plan = plan(g.classification, config, is_fork=pr.is_fork, event="release",
                        known_environments=g.known)
        envs = []
        for env in the_plan.environments:
            last = store.last_decision(env.name, g.evidence.sha) or store.last_decision(
                env.name, pr.head_sha)
            state: str = last.state if last else ""
            reasons = last.reasons if last else []
            deployed = trunk.packet_state(history, store.decisions(pr.number), env.name,
                                          g.evidence.sha)
            if deployed is not None:
                state, reasons = deployed[0], deployed[1] or reasons
            envs.append(PacketEnvironment(
                name=env.name, gates=[x.describe() for x in env.gates],
                state=state, reasons=reasons))
        packet = ReleasePacket(
            number=pr.number, sha=pr.head_sha, tier=g.classification.tier,
            tier_reasons=g.classification.reasons, environments=envs,
            policy_verdict=g.evidence.policy_verdict, policy_failures=g.evidence.policy_failures,
            checks=g.evidence.check_runs, history=history, decisions=store.decisions(pr.number),
            workflow=found[0] if found else None)
        comments.upsert_marked(ctx, pr.number, MARKER, render_packet(packet))
