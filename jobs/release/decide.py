"""Release gates, the decision: judge each gate on the evidence, then the release.

Pure: `decide(gates, evidence)` answers approved (every gate met), rejected (one failed) or
pending (one still waiting; `next_check_at` says when a timed gate may open), with one reason
line per gate.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from app.findings import Verdict
from jobs.release.freeze import active_windows
from jobs.release.gates import (
    OK_CONCLUSIONS,
    OWN_CHECK_PREFIX,
    POLICY_CHECK,
    Approval,
    ApprovalGate,
    CheckRun,
    ChecksGate,
    Evidence,
    FreezeGate,
    Gate,
    GateDecision,
    GateResult,
    PolicyGate,
    PredecessorGate,
    Waiver,
    permission_at_least,
    team_matches,
)
from jobs.release.history import BAD_STATES, GOOD_STATES, in_environment


def decide(gates: list[Gate], evidence: Evidence) -> GateDecision:
    results = [_evaluate(g, evidence) for g in gates]
    if any(r.state == "failed" for r in results):
        state: Literal["approved", "rejected", "pending"] = "rejected"
    elif any(r.state == "pending" for r in results):
        state = "pending"
    else:
        state = "approved"
    times = [r.next_check_at for r in results if r.state == "pending" and r.next_check_at]
    return GateDecision(
        state=state,
        environment=evidence.environment,
        sha=evidence.sha,
        results=results,
        next_check_at=min(times) if state == "pending" and times else None,
    )


def _evaluate(gate: Gate, ev: Evidence) -> GateResult:
    if isinstance(gate, ChecksGate):
        return _checks(gate, ev)
    if isinstance(gate, PolicyGate):
        return _policy(gate, ev)
    if isinstance(gate, PredecessorGate):
        return _predecessor(gate, ev)
    if isinstance(gate, ApprovalGate):
        return _approval(gate, ev)
    return _freeze(gate, ev)


def _names(runs: list[CheckRun], limit: int = 5) -> str:
    shown = ", ".join(f"`{r.name}` ({r.conclusion or r.status})" for r in runs[:limit])
    return shown + (f" and {len(runs) - limit} more" if len(runs) > limit else "")


def _checks(gate: ChecksGate, ev: Evidence) -> GateResult:
    latest: dict[tuple[str, str], CheckRun] = {}
    # Re-runs: the check run with the highest id (else the later in the list) wins.
    for _, run in sorted(enumerate(ev.check_runs), key=lambda p: (p[1].id or 0, p[0])):
        if run.name.startswith(OWN_CHECK_PREFIX) and run.app_id == ev.own_app_id:
            continue  # ours: the policy gate judges the verdict (another app's run counts)
        if run.status == "waiting":
            continue  # a job waiting on an environment can only finish after this decision
        if ev.gated_check_suite_id is not None and run.check_suite_id == ev.gated_check_suite_id:
            continue
        latest[(run.app, run.name)] = run
    runs = list(latest.values())
    if gate.required is not None:
        by_name = {r.name: r for r in runs}
        missing = [n for n in gate.required if n not in by_name]
        runs = [by_name[n] for n in gate.required if n in by_name]
    else:
        missing = []
    failed = [r for r in runs if r.status == "completed" and r.conclusion not in OK_CONCLUSIONS]
    running = [r for r in runs if r.status != "completed"]
    if failed:
        return GateResult(kind="checks", state="failed", reason=f"checks failed: {_names(failed)}")
    if running or missing:
        parts = [f"`{n}` (not reported)" for n in missing[:5]]
        if running:
            parts.append(_names(running))
        return GateResult(kind="checks", state="pending",
                          reason="checks: waiting for " + ", ".join(parts))
    if not runs and gate.at_least_one:
        return GateResult(kind="checks", state="pending",
                          reason=f"checks: waiting for at least one CI check run on {ev.sha[:7]}"
                          " (none reported; shipcrew's own do not count)")
    if not runs:
        return GateResult(kind="checks", state="met",
                          reason=f"checks: no check runs reported on {ev.sha[:7]}")
    return GateResult(kind="checks", state="met",
                      reason=f"checks: {len(runs)} check run(s) passed")


def separation_problem(user: str, ev: Evidence) -> str | None:
    """Why `user` may not vouch for this change (its author, or someone who pushed to it)."""
    who = user.lower()
    if who in {ev.pr_author.lower(), ev.last_pusher.lower()}:
        return "author or last pusher (separation of duties)"
    if who in {p.lower() for p in ev.pushers}:
        return "pushed to this pull request (separation of duties)"
    return None


def waiver_problem(gate: PolicyGate, waiver: Waiver, ev: Evidence) -> str | None:
    """Why this waiver does not cover its rule on `ev.sha`, or None when it does."""
    if not gate.allow_author and (problem := separation_problem(waiver.user, ev)):
        return problem
    if waiver.sha is None or waiver.sha == ev.sha:
        return None
    now = set((ev.policy_findings or {}).get(waiver.rule.upper()) or [])
    if waiver.findings is not None and now and now <= set(waiver.findings):
        return None  # a later head with only the findings that were waived
    return f"given for {waiver.sha[:7]}, whose findings differ"


def _policy(gate: PolicyGate, ev: Evidence) -> GateResult:
    verdict = ev.policy_verdict
    if verdict is None:
        return GateResult(kind="policy", state="pending",
                          reason=f"policy: no `{POLICY_CHECK}` verdict for {ev.sha[:7]} yet")
    if verdict is not Verdict.FAIL:
        return GateResult(kind="policy", state="met", reason=f"policy: verdict {verdict.value}")
    waived: dict[str, Waiver] = {}
    for w in ev.waivers:
        if waiver_problem(gate, w, ev) is None:
            waived.setdefault(w.rule.upper(), w)
    unwaived = [r for r in ev.policy_failures if r.upper() not in waived]
    if ev.policy_failures and not unwaived:
        by = ", ".join(f"{r} by @{waived[r.upper()].user}" for r in ev.policy_failures)
        return GateResult(kind="policy", state="met",
                          reason=f"policy: verdict fail, every failing rule waived ({by})")
    rules = f" ({', '.join(unwaived[:8])} not waived)" if unwaived else ""
    return GateResult(kind="policy", state="failed", reason=f"policy: verdict fail{rules}")


def _predecessor(gate: PredecessorGate, ev: Evidence) -> GateResult:
    if not gate.exists:
        return GateResult(kind="predecessor", state="pending", reason=gate.missing())
    since: datetime | None = None  # start of the current run of successes of this SHA there
    for record in in_environment(ev.deployments, gate.environment):
        if record.sha != ev.sha:
            continue
        if record.state in GOOD_STATES and since is None:
            since = record.at
        elif record.state in BAD_STATES:
            since = None
    name = f"`{gate.environment}`"
    if since is None:
        return GateResult(kind="predecessor", state="pending",
                          reason=f"{name}: {ev.sha[:7]} not deployed there successfully yet")
    elapsed = ev.now - since
    minutes = int(elapsed.total_seconds() // 60)
    soak = timedelta(minutes=gate.soak_minutes)
    if elapsed >= soak:
        soaked = f", soak {gate.soak_minutes} min met" if gate.soak_minutes else ""
        return GateResult(kind="predecessor", state="met",
                          reason=f"{name}: deployed successfully {minutes} min ago{soaked}")
    return GateResult(
        kind="predecessor", state="pending", next_check_at=since + soak,
        reason=f"{name}: soaking, {minutes} of {gate.soak_minutes} min since its deployment",
    )


def approval_problem(gate: ApprovalGate, approval: Approval, ev: Evidence) -> str | None:
    """Why this approval does not count toward `gate`, or None when it does."""
    user = approval.user.lower()
    if approval.environment.lower() != ev.environment.lower():
        return "for another environment"
    if approval.sha and approval.sha != ev.sha and approval.sha not in ev.same_as:
        return f"given for {approval.sha[:7]}, an older push"
    if not gate.allow_author and (problem := separation_problem(user, ev)):
        return problem
    if gate.users or gate.teams:
        if user in {u.lower() for u in gate.users} or any(
            team_matches(t, approval.teams) for t in gate.teams
        ):
            return None
        return "not a listed approver"
    if permission_at_least(approval.permission, gate.min_permission) or any(
        team_matches(t, approval.teams) for t in gate.approver_teams
    ):
        return None
    return f"has {approval.permission}, needs {gate.min_permission}"


def _approval(gate: ApprovalGate, ev: Evidence) -> GateResult:
    counted: dict[str, Approval] = {}
    refused: list[str] = []
    for a in sorted(ev.approvals, key=lambda a: a.at):
        problem = approval_problem(gate, a, ev)
        if problem is None:
            counted.setdefault(a.user.lower(), a)
        elif a.environment.lower() == ev.environment.lower():
            where = f" in {a.via}" if a.via else ""
            refused.append(f"@{a.user}{where} not counted: {problem}")
    who = ", ".join(f"@{a.user}" + (f" in {a.via}" if a.via else "") for a in counted.values())
    if len(counted) >= gate.count:
        return GateResult(kind="approval", state="met",
                          reason=f"approval: {len(counted)} of {gate.count} ({who})")
    notes = f"; {'; '.join(refused[:3])}" if refused else ""
    return GateResult(
        kind="approval", state="pending",
        reason=f"approval: {len(counted)} of {gate.count}{' (' + who + ')' if who else ''}, "
        f"awaiting `/crew approve {ev.environment}` (or GitHub's review dialog) by "
        f"{gate.approvers()}"
        f"{notes}",
    )


def _freeze(gate: FreezeGate, ev: Evidence) -> GateResult:
    try:
        windows = active_windows(gate.freezes, ev.now)
    except ValueError as exc:
        # Fail closed: a freeze that cannot be read must not let a deployment through.
        return GateResult(kind="freeze", state="failed",
                          reason=f"freeze: invalid freeze in .github/shipcrew.yml: {exc}")
    rejecting = [w for w in windows if w.freeze.action == "reject"]
    if rejecting:
        return GateResult(kind="freeze", state="failed",
                          reason=f"freeze: {ev.environment} is frozen, {rejecting[0].describe()}")
    if windows:
        last = max(windows, key=lambda w: w.end)
        return GateResult(kind="freeze", state="pending", next_check_at=last.end,
                          reason=f"freeze: held until the window ends, {last.describe()}")
    return GateResult(kind="freeze", state="met", reason="freeze: no freeze window open")
