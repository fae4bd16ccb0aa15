"""What a deployment releases: a PR head, or a commit on a branch (`main` after a merge).

`origin` finds the pull requests whose evidence applies to the gated commit: the open PRs
whose head it is, else the merged PR it came from (`app.lineage`, recorded by the auditor on
push, traced again here when missing). A merged commit that inherits its PR's evidence takes
its approvals (given for the PR head), waivers and risk; one that does not is classified from
its own changes and only keeps the PR author out of its approvers.

`rollback_of` and `bypass` make a rollback more than an ordinary deployment: a version that
already ran successfully in the environment skips the gates `environments.*.rollback.bypass`
names (freeze, approval, soak by default).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app import lineage
from app.config import RepoConfig
from app.context import JobContext
from app.coordinator import Classification
from jobs.release import evidence
from jobs.release.gates import (
    ApprovalGate,
    FreezeGate,
    Gate,
    GateDecision,
    GateResult,
    PredecessorGate,
    environment_config,
)
from jobs.release.history import (
    BAD_STATES,
    GOOD_STATES,
    DeploymentRecord,
    good_versions,
    in_environment,
)
from jobs.release.store import DecisionRecord, PendingGate


@dataclass
class Origin:
    pulls: list[evidence.PullInfo]  # PRs whose evidence applies (approvals, waivers)
    packets: list[evidence.PullInfo]  # PRs whose release packet shows this deployment
    classification: Classification
    author: str
    pusher: str
    same_as: list[str] = field(default_factory=list)
    traced: lineage.Lineage | None = None

    @property
    def numbers(self) -> list[int]:
        return sorted({p.number for p in self.pulls})


def origin(ctx: JobContext, gate: PendingGate, config: RepoConfig) -> Origin:
    pulls = evidence.pulls_for_sha(ctx, gate.sha, gate.pull_numbers)
    if pulls:
        return Origin(pulls, pulls, evidence.classify_pulls(ctx, pulls, gate.sha, config),
                      pulls[0].author, evidence.last_pusher(ctx, gate.sha))
    branch = gate.ref.removeprefix("refs/heads/") or ctx.default_branch
    traced = lineage.load(ctx.conn, ctx.repo, gate.sha)
    if traced is None:
        traced = lineage.trace(ctx.gh, ctx.repo, gate.sha, branch, config)
        lineage.save(ctx.conn, ctx.repo, traced)
    pr = evidence.pull_info(ctx, traced.number) if traced.number else None
    if pr is None:
        return Origin([], [], evidence.classify_pulls(ctx, [], gate.sha, config), "",
                      evidence.last_pusher(ctx, gate.sha), traced=traced)
    if traced.inherits:
        return Origin([pr], [pr], evidence.classify_pulls(ctx, [pr], gate.sha, config),
                      pr.author, evidence.last_pusher(ctx, traced.pr_head),
                      same_as=[traced.pr_head], traced=traced)
    return Origin([], [pr], evidence.classify_pulls(ctx, [], gate.sha, config), pr.author,
                  evidence.last_pusher(ctx, gate.sha), traced=traced)


def rollback_of(history: list[DeploymentRecord], environment: str, sha: str) -> bool:
    """Going back: a version whose last outcome in `environment` was a success, while the
    environment's latest deployment is of another version (or failed). Deploying again what
    runs there now is an ordinary deployment."""
    if sha not in good_versions(history, environment):
        return False
    latest = in_environment(history, environment)[-1]
    return latest.sha != sha or latest.state not in GOOD_STATES


def packet_state(history: list[DeploymentRecord], decisions: list[DecisionRecord],
                 environment: str, sha: str) -> tuple[str, list[str]] | None:
    """What the release packet shows for `sha` in `environment` once it was deployed: the
    outcome, with the reasons of the decision that let it through."""
    runs = [r for r in in_environment(history, environment)
            if r.sha == sha and r.state in GOOD_STATES | BAD_STATES]
    if not runs:
        return None
    let_through = [d for d in decisions if d.environment.lower() == environment.lower()
                   and d.sha == sha and d.state == "approved"]
    reasons = let_through[-1].reasons if let_through else []
    return ("deployed" if runs[-1].state in GOOD_STATES else "deploy failed"), reasons


def bypass(gates: list[Gate], environment: str, config: RepoConfig) -> tuple[list[Gate], str]:
    """The gates a rollback still passes, and a sentence saying what it skipped."""
    env = environment_config(config, environment)
    skip = set(env.rollback.bypass if env is not None else ["freeze", "approval", "soak"])
    kept: list[Gate] = []
    for g in gates:
        if isinstance(g, FreezeGate) and "freeze" in skip:
            continue
        if isinstance(g, ApprovalGate) and "approval" in skip:
            continue
        if isinstance(g, PredecessorGate) and "soak" in skip and g.soak_minutes:
            g = g.model_copy(update={"soak_minutes": 0})
        kept.append(g)
    return kept, ", ".join(sorted(skip)) or "nothing"


def mark_rollback(decision: GateDecision, skipped: str) -> GateDecision:
    note = GateResult(kind="rollback", state="met",
                      reason=f"rollback: `{decision.sha[:7]}` already ran successfully in "
                      f"`{decision.environment}`; bypassing {skipped}")
    return decision.model_copy(update={"results": [note, *decision.results]})
