"""The release packet, pure: one PR comment that says where the release stands and why.

The comment is found again by MARKER and updated in place, so a PR carries one packet
however many decisions it goes through.
"""

from __future__ import annotations

from pydantic import BaseModel

from app.findings import Verdict
from jobs.release.gates import MARKS, OK_CONCLUSIONS, CheckRun
from jobs.release.history import DeploymentRecord, rollback_target
from jobs.release.store import DecisionRecord

MARKER = "<!-- shipcrew:release-packet -->"
MAX_CHECKS = 30
MAX_DECISIONS = 10
MAX_BODY = 60_000  # GitHub allows 65,536 characters in a comment
STATE_MARKS = {"approved": "✅", "rejected": "❌", "pending": "⏳", "deployed": "🚀",
               "deploy failed": "💥", "": "·"}


class PacketEnvironment(BaseModel):
    name: str
    gates: list[str]  # what the environment requires, in words
    # approved | rejected | pending | deployed | deploy failed | "" (not requested yet)
    state: str = ""
    reasons: list[str] = []


class ReleasePacket(BaseModel):
    number: int
    sha: str
    tier: str
    tier_reasons: list[str] = []
    environments: list[PacketEnvironment]  # in deployment order
    policy_verdict: Verdict | None = None
    policy_failures: list[str] = []
    checks: list[CheckRun] = []
    history: list[DeploymentRecord] = []
    decisions: list[DecisionRecord] = []  # oldest first
    workflow: str | None = None  # the delivery workflow that deploys and rolls back


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _check_mark(run: CheckRun) -> str:
    if run.status != "completed":
        return MARKS["pending"]
    return MARKS["met"] if run.conclusion in OK_CONCLUSIONS else MARKS["failed"]


def render_packet(p: ReleasePacket) -> str:
    lines = [
        MARKER,
        f"### shipcrew release packet · `{p.sha[:7]}`",
        "",
        f"**Risk tier: {p.tier}**" + (f" — {_cell(p.tier_reasons[0])}" if p.tier_reasons else ""),
        "",
        "#### Environments (deployment plan, in order)",
        "",
        "| # | environment | state | requires |",
        "|---|---|---|---|",
    ]
    for i, env in enumerate(p.environments, start=1):
        state = f"{STATE_MARKS.get(env.state, '·')} {env.state or 'not requested'}"
        lines.append(f"| {i} | `{_cell(env.name)}` | {state} | "
                     f"{'<br>'.join(_cell(g) for g in env.gates)} |")
    for env in p.environments:
        if env.reasons:
            lines += ["", f"**{_cell(env.name)}** — last decision: {env.state}", "",
                      *[f"- {_cell(r)}" for r in env.reasons]]
    verdict = p.policy_verdict.value if p.policy_verdict else "not reported yet"
    failing = f" (failing: {', '.join(p.policy_failures)})" if p.policy_failures else ""
    lines += ["", "#### Policy", "", f"`shipcrew / policy` verdict: **{verdict}**{failing}"]
    lines += ["", "#### Test evidence (check runs)", ""]
    latest: dict[tuple[str, str], CheckRun] = {}
    for run in sorted(p.checks, key=lambda r: r.id or 0):  # a re-run replaces its earlier run
        latest[(run.app, run.name)] = run
    runs = sorted(latest.values(), key=lambda r: r.name)
    if runs:
        lines += [f"- {_check_mark(r)} `{_cell(r.name)}`: {r.conclusion or r.status}"
                  for r in runs[:MAX_CHECKS]]
        if len(runs) > MAX_CHECKS:
            lines.append(f"- … and {len(runs) - MAX_CHECKS} more")
    else:
        lines.append("No check runs reported on this commit.")
    lines += ["", "#### Rollback strategy", ""]
    workflow = f"`{p.workflow}`" if p.workflow else "the delivery workflow"
    for env in p.environments:
        target = rollback_target(p.history, env.name, p.sha)
        if target is None:
            lines.append(f"- `{_cell(env.name)}`: no earlier good version recorded; a failed "
                         "deployment is reported on this PR, not rolled back")
        else:
            lines.append(f"- `{_cell(env.name)}`: on failure, dispatch {workflow} for "
                         f"`{target.sha[:7]}` (last good, {target.at:%Y-%m-%d %H:%M %Z})")
    lines += ["", "#### Decision history", ""]
    decisions = p.decisions[-MAX_DECISIONS:][::-1]
    if decisions:
        lines += ["| when | environment | version | decision | trigger |", "|---|---|---|---|---|"]
        lines += [f"| {d.at:%Y-%m-%d %H:%M %Z} | `{_cell(d.environment)}` | `{d.sha[:7]}` | "
                  f"{STATE_MARKS[d.state]} {d.state} | {_cell(d.trigger)} |" for d in decisions]
    else:
        lines.append("No deployment requested yet.")
    body = "\n".join(lines)
    return body if len(body) <= MAX_BODY else body[: MAX_BODY - 20] + "\n\n… (cut)"
