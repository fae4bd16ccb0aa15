"""Release manager, pure core: which gates an environment requires, and the decision on them.

`gates_for` turns the repo config (or the defaults) into gates; the glue gathers `Evidence`
(check runs, policy verdict, deployment history, approvals, waivers, the clock) and `decide`
answers approved / rejected / pending with one reason line per gate. Nothing here talks to
GitHub or Redis or reads the clock.

Defaults with no config: every environment needs every check run on the SHA completed without
failure and a `shipcrew / policy` verdict that is not `fail`. `production`, `prod` and
`prod-*` also need a successful deployment of the same SHA to `staging` (when that environment
exists) and, for high-risk changes, an approval by a maintainer or admin who is not the PR
author nor its last pusher. Per-environment config replaces each default it sets.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field

from app.config import EnvironmentConfig, Freeze, RepoConfig
from app.findings import Verdict
from jobs.deploy import BAD_STATES, GOOD_STATES, DeploymentRecord, in_environment
from jobs.freeze import active_windows

PERMISSIONS = ("none", "read", "triage", "write", "maintain", "admin")
TIERS = ("low", "medium", "high")
POLICY_CHECK = "shipcrew / policy"
OWN_CHECK_PREFIX = "shipcrew /"  # our own check runs are gated by verdict, not conclusion
OK_CONCLUSIONS = frozenset({"success", "neutral", "skipped"})
COMMENT_LIMIT = 1024  # GitHub's limit on a protection rule review comment
MARKS = {"failed": "❌", "pending": "⏳", "met": "✅"}


# --- who may do what (shared with app.commands) ---------------------------------------------


def permission_at_least(permission: str, minimum: str) -> bool:
    """GitHub's collaborator order: none < read < triage < write < maintain < admin."""
    return _rank(permission) >= _rank(minimum)


def _rank(permission: str) -> int:
    p = (permission or "none").lower()
    return PERMISSIONS.index(p) if p in PERMISSIONS else 0


def team_matches(configured: str, member_teams: set[str] | list[str]) -> bool:
    """`org/slug` in config matches exactly; a bare `slug` matches that slug in any org."""
    want = configured.lower()
    for team in member_teams:
        have = team.lower()
        if have == want or ("/" not in want and have.rsplit("/", 1)[-1] == want):
            return True
    return False


def environment_config(config: RepoConfig, environment: str) -> EnvironmentConfig | None:
    """The config of an environment; GitHub environment names are case-insensitive."""
    for name, env in config.environments.items():
        if name.lower() == environment.lower():
            return env
    return None


def is_production(environment: str) -> bool:
    name = environment.lower()
    return name in ("production", "prod") or name.startswith("prod-")


def approval_tiers_for(environment: str, config: RepoConfig) -> list[str]:
    """Tiers whose releases to `environment` need a human approval.

    `approval_tiers` when set; otherwise every tier when `approvers` is configured, `high`
    for production-like names, nothing elsewhere. `auto_approve` tiers are then removed.
    """
    env = environment_config(config, environment)
    tiers: list[str]
    if env is not None and env.approval_tiers is not None:
        tiers = list(env.approval_tiers)
    elif env is not None and env.approvers is not None:
        tiers = list(TIERS)
    else:
        tiers = ["high"] if is_production(environment) else []
    auto = set(env.auto_approve or []) if env is not None else set()
    return [t for t in tiers if t not in auto]


# --- gates -----------------------------------------------------------------------------------


class ChecksGate(BaseModel):
    kind: Literal["checks"] = "checks"
    required: list[str] | None = None  # None: every check run on the SHA

    def describe(self) -> str:
        if self.required is None:
            return "every check run on the commit completed without failure"
        return "required checks passed: " + ", ".join(f"`{c}`" for c in self.required)


class PolicyGate(BaseModel):
    kind: Literal["policy"] = "policy"

    def describe(self) -> str:
        return f"`{POLICY_CHECK}` verdict is not fail (or every failing rule is waived)"


class PredecessorGate(BaseModel):
    kind: Literal["predecessor"] = "predecessor"
    environment: str
    soak_minutes: int = 0

    def describe(self) -> str:
        soak = f", at least {self.soak_minutes} min earlier" if self.soak_minutes else ""
        return f"the same commit deployed successfully to `{self.environment}`{soak}"


class ApprovalGate(BaseModel):
    kind: Literal["approval"] = "approval"
    count: int = 1
    users: list[str] = []  # when users or teams are listed, only they may approve
    teams: list[str] = []
    min_permission: str = "maintain"  # otherwise: this permission or more ...
    approver_teams: list[str] = []  # ... or membership in commands.approver_teams
    allow_author: bool = False

    def describe(self) -> str:
        if self.users or self.teams:
            who = ", ".join([f"@{u}" for u in self.users] + [f"team {t}" for t in self.teams])
        else:
            who = f"users with {self.min_permission} permission or more"
            if self.approver_teams:
                who += " or in " + ", ".join(self.approver_teams)
        author = "" if self.allow_author else ", not the PR author or last pusher"
        return f"{self.count} approval(s) with `/crew approve` by {who}{author}"


class FreezeGate(BaseModel):
    kind: Literal["freeze"] = "freeze"
    freezes: list[Freeze]

    def describe(self) -> str:
        return "outside freeze windows: " + "; ".join(
            f"`{f.cron}` for {f.duration} ({f.timezone}, {f.action})" for f in self.freezes
        )


Gate = Annotated[
    ChecksGate | PolicyGate | PredecessorGate | ApprovalGate | FreezeGate,
    Field(discriminator="kind"),
]


def gates_for(
    environment: str, config: RepoConfig, tier: str, known_environments: set[str]
) -> list[Gate]:
    """The gates a release of a `tier`-risk change to `environment` must pass."""
    env = environment_config(config, environment)
    gates: list[Gate] = [ChecksGate(required=env.required_checks if env else None), PolicyGate()]
    if env is not None and env.requires is not None:
        predecessors = env.requires
    else:
        known = {e.lower() for e in known_environments}
        production = is_production(environment) and environment.lower() != "staging"
        predecessors = ["staging"] if production and "staging" in known else []
    soak = env.soak_minutes if env else 0
    gates += [
        PredecessorGate(environment=p, soak_minutes=soak)
        for p in predecessors
        if p.lower() != environment.lower()
    ]
    if tier in approval_tiers_for(environment, config):
        approvers = env.approvers if env and env.approvers else None
        gates.append(ApprovalGate(
            count=approvers.count if approvers else 1,
            users=approvers.users if approvers else [],
            teams=approvers.teams if approvers else [],
            min_permission=approvers.min_permission if approvers else "maintain",
            approver_teams=config.commands.approver_teams,
            allow_author=env.allow_author if env else False,
        ))
    if env is not None and env.freeze:
        gates.append(FreezeGate(freezes=env.freeze))
    return gates


# --- evidence and decision -------------------------------------------------------------------


class CheckRun(BaseModel):
    name: str
    status: str  # queued | in_progress | completed | waiting | requested | pending
    conclusion: str | None = None
    app: str = ""
    id: int | None = None
    check_suite_id: int | None = None


class Approval(BaseModel):
    user: str
    environment: str
    permission: str = "none"
    teams: list[str] = []
    at: AwareDatetime
    note: str = ""
    sha: str | None = None  # the head it was given for; an approval of an older push is stale


class Waiver(BaseModel):
    rule: str
    user: str
    reason: str
    at: AwareDatetime


class Evidence(BaseModel):
    """Everything `decide` looks at, gathered by the glue; `now` is injected."""

    sha: str
    environment: str
    tier: str = "medium"
    pr_author: str = ""
    last_pusher: str = ""
    check_runs: list[CheckRun] = []
    # The check suite of the workflow run being gated: its jobs wait on this very decision.
    gated_check_suite_id: int | None = None
    policy_verdict: Verdict | None = None
    policy_failures: list[str] = []  # rule ids of the enforced hard findings
    deployments: list[DeploymentRecord] = []
    approvals: list[Approval] = []
    waivers: list[Waiver] = []
    now: AwareDatetime


class GateResult(BaseModel):
    kind: str
    state: Literal["met", "pending", "failed"]
    reason: str
    next_check_at: datetime | None = None


class GateDecision(BaseModel):
    state: Literal["approved", "rejected", "pending"]
    environment: str
    sha: str
    results: list[GateResult]
    next_check_at: datetime | None = None  # when a timed gate (soak, held freeze) may open

    @property
    def reasons(self) -> list[str]:
        return [f"{MARKS[r.state]} {r.reason}" for r in self.results]

    def comment(self, limit: int = COMMENT_LIMIT) -> str:
        """The protection-rule answer: blocking reasons first, cut to `limit` UTF-16 units."""
        head = f"shipcrew: {self.state} for {self.environment} ({self.sha[:7]})"
        order = {"failed": 0, "pending": 1, "met": 2}
        lines = [f"{MARKS[r.state]} {r.reason}" for r in
                 sorted(self.results, key=lambda r: order[r.state])]
        return _bounded(head, lines, limit)


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _bounded(head: str, lines: list[str], limit: int) -> str:
    out = head
    for i, line in enumerate(lines):
        more = f"\n… {len(lines) - i} more"
        candidate = f"{out}\n{line}"
        rest_fits = i == len(lines) - 1 or _units(candidate) + _units(more) <= limit
        if _units(candidate) <= limit and rest_fits:
            out = candidate
            continue
        # Cut this line to what fits, leaving room for the marker of what was left off.
        room = limit - _units(out) - _units(more) - 2
        cut = ""
        for ch in line:
            if _units(cut + ch) > room:
                break
            cut += ch
        if len(cut) > 20:
            out = f"{out}\n{cut}…"
            more = f"\n… {len(lines) - i - 1} more" if i < len(lines) - 1 else ""
        return out + more
    return out


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
        return _policy(ev)
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
        if run.name.startswith(OWN_CHECK_PREFIX) or run.status == "waiting":
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
    if not runs:
        return GateResult(kind="checks", state="met",
                          reason=f"checks: no check runs reported on {ev.sha[:7]}")
    return GateResult(kind="checks", state="met",
                      reason=f"checks: {len(runs)} check run(s) passed")


def _policy(ev: Evidence) -> GateResult:
    verdict = ev.policy_verdict
    if verdict is None:
        return GateResult(kind="policy", state="pending",
                          reason=f"policy: no `{POLICY_CHECK}` verdict for {ev.sha[:7]} yet")
    if verdict is not Verdict.FAIL:
        return GateResult(kind="policy", state="met", reason=f"policy: verdict {verdict.value}")
    waived = {w.rule.upper(): w for w in ev.waivers}
    unwaived = [r for r in ev.policy_failures if r.upper() not in waived]
    if ev.policy_failures and not unwaived:
        by = ", ".join(f"{r} by @{waived[r.upper()].user}" for r in ev.policy_failures)
        return GateResult(kind="policy", state="met",
                          reason=f"policy: verdict fail, every failing rule waived ({by})")
    rules = f" ({', '.join(unwaived[:8])} not waived)" if unwaived else ""
    return GateResult(kind="policy", state="failed", reason=f"policy: verdict fail{rules}")


def _predecessor(gate: PredecessorGate, ev: Evidence) -> GateResult:
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
    if approval.sha and approval.sha != ev.sha:
        return f"given for {approval.sha[:7]}, an older push"
    if not gate.allow_author and user in {ev.pr_author.lower(), ev.last_pusher.lower()}:
        return "author or last pusher (separation of duties)"
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
            refused.append(f"@{a.user} not counted: {problem}")
    who = ", ".join(f"@{a.user}" for a in counted.values())
    if len(counted) >= gate.count:
        return GateResult(kind="approval", state="met",
                          reason=f"approval: {len(counted)} of {gate.count} ({who})")
    notes = f"; {'; '.join(refused[:3])}" if refused else ""
    return GateResult(
        kind="approval", state="pending",
        reason=f"approval: {len(counted)} of {gate.count}{' (' + who + ')' if who else ''}, "
        f"awaiting `/crew approve {ev.environment}` by {gate.describe().split(' by ', 1)[1]}"
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
