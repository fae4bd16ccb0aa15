"""Release gates, pure core: which gates an environment requires, and what a decision holds.

`gates_for` turns the repo config (or the defaults) into gates; the glue gathers `Evidence`
(check runs, policy verdict, deployment history, approvals, waivers, the clock) and
`jobs.release.decide.decide` answers approved / rejected / pending with one reason line per gate.
Nothing here talks to GitHub or Redis or reads the clock.

Defaults with no config: every environment needs every check run on the SHA completed without
failure and a `shipcrew / policy` verdict that is not `fail`. `production`, `prod` and
`prod-*` also need a successful deployment of the same SHA to `staging` (when that environment
exists) and, for high-risk changes, an approval by a maintainer or admin who is not the PR
author nor its last pusher. Per-environment config replaces each default it sets.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field

from app.config import EnvironmentConfig, Freeze, RepoConfig
from app.findings import Verdict
from jobs.release.history import DeploymentRecord

PERMISSIONS = ("none", "read", "triage", "write", "maintain", "admin")
TIERS = ("low", "medium", "high")
POLICY_CHECK = "shipcrew / policy"
OWN_CHECK_PREFIX = "shipcrew /"  # our App's own check runs are gated by verdict, not conclusion
OK_CONCLUSIONS = frozenset({"success", "neutral", "skipped"})
COMMENT_LIMIT = 1024  # GitHub's limit on a protection rule review comment
MARKS = {"failed": "❌", "pending": "⏳", "met": "✅"}


# --- who may do what (shared with app.command_parser) ---------------------------------------------


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
    at_least_one: bool = False  # production: zero CI check runs is not "checks passed"

    def describe(self) -> str:
        if self.required is None:
            one = " (at least one CI check run)" if self.at_least_one else ""
            return f"every check run on the commit completed without failure{one}"
        return "required checks passed: " + ", ".join(f"`{c}`" for c in self.required)


class PolicyGate(BaseModel):
    kind: Literal["policy"] = "policy"
    allow_author: bool = False  # may the PR's author or pushers waive its failures here

    def describe(self) -> str:
        return f"`{POLICY_CHECK}` verdict is not fail (or every failing rule is waived)"


class PredecessorGate(BaseModel):
    kind: Literal["predecessor"] = "predecessor"
    environment: str
    soak_minutes: int = 0
    exists: bool = True  # False: the repository has no such GitHub environment

    def describe(self) -> str:
        soak = f", at least {self.soak_minutes} min earlier" if self.soak_minutes else ""
        missing = f" ({self.missing()})" if not self.exists else ""
        return f"the same commit deployed successfully to `{self.environment}`{soak}{missing}"

    def missing(self) -> str:
        return (f"`{self.environment}` does not exist on GitHub: create that environment or "
                "remove it from `requires`")


class ApprovalGate(BaseModel):
    kind: Literal["approval"] = "approval"
    count: int = 1
    users: list[str] = []  # when users or teams are listed, only they may approve
    teams: list[str] = []
    min_permission: str = "maintain"  # otherwise: this permission or more ...
    approver_teams: list[str] = []  # ... or membership in commands.approver_teams
    allow_author: bool = False

    def approvers(self) -> str:
        """Who may approve, in words."""
        if self.users or self.teams:
            who = ", ".join([f"@{u}" for u in self.users] + [f"team {t}" for t in self.teams])
        else:
            who = f"users with {self.min_permission} permission or more"
            if self.approver_teams:
                who += " or in " + ", ".join(self.approver_teams)
        author = "" if self.allow_author else (
            ", not the PR author or last pusher (nor anyone who pushed to it)")
        return who + author

    def describe(self) -> str:
        return (f"{self.count} approval(s) with `/crew approve` or in GitHub's review dialog "
                f"by {self.approvers()}")


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
    required = env.required_checks if env else None
    gates: list[Gate] = [ChecksGate(required=required,
                                    at_least_one=required is None and is_production(environment)),
                         PolicyGate(allow_author=env.allow_author if env else False)]
    if env is not None and env.requires is not None:
        predecessors = env.requires
    else:
        known = {e.lower() for e in known_environments}
        production = is_production(environment) and environment.lower() != "staging"
        predecessors = ["staging"] if production and "staging" in known else []
    soak = env.soak_minutes if env else 0
    known_lower = {e.lower() for e in known_environments}
    gates += [
        PredecessorGate(environment=p, soak_minutes=soak, exists=p.lower() in known_lower)
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
    app_id: int | None = None  # GitHub's `app.id`: what says whose run it is (names are free)
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
    via: str = ""  # where it was given: "" for `/crew approve`, "GitHub review" for the dialog


class Waiver(BaseModel):
    rule: str
    user: str
    reason: str
    at: AwareDatetime
    sha: str | None = None  # the head it was given for
    # The rule's failing findings it was given for (the auditor's fingerprints): on a later
    # head it covers the rule only while the findings there are among these.
    findings: list[str] | None = None


class Evidence(BaseModel):
    """Everything `decide` looks at, gathered by the glue; `now` is injected."""

    sha: str
    environment: str
    tier: str = "medium"
    pr_author: str = ""
    last_pusher: str = ""
    pushers: list[str] = []  # everyone who pushed a head of the PR (webhook senders)
    check_runs: list[CheckRun] = []
    own_app_id: int | None = None  # our App's id: only its `shipcrew / ...` runs are ours
    # The check suite of the workflow run being gated: its jobs wait on this very decision.
    gated_check_suite_id: int | None = None
    policy_verdict: Verdict | None = None
    policy_failures: list[str] = []  # rule ids of the enforced hard findings
    policy_findings: dict[str, list[str]] | None = None  # rule -> its findings' fingerprints
    deployments: list[DeploymentRecord] = []
    approvals: list[Approval] = []
    waivers: list[Waiver] = []
    now: AwareDatetime
    # Commits whose approvals hold for `sha`: a merge commit whose tree is the approved PR
    # head's (app.lineage) inherits that head's approvals.
    same_as: list[str] = []


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
