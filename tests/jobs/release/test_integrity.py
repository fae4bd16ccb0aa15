"""Gate integrity (issue 10), the pure rules: whose check runs are ours, who may vouch for a
change, what a waiver covers, which head a comment is about, which statuses count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.findings import Finding, Mode, Severity, Verdict
from jobs.auditor.github import fingerprints
from jobs.release.decide import approval_problem, decide, waiver_problem
from jobs.release.gates import ApprovalGate, CheckRun, ChecksGate, PolicyGate, Waiver
from jobs.release.heads import bind_head, named_sha
from jobs.release.rollback import Status, untrusted
from jobs.release.store import GatedDeployment, Push
from tests.jobs.release.test_gates import NOW, SHA, approval, evidence

OURS = 7


def run(name: str, conclusion: str, app_id: int) -> CheckRun:
    return CheckRun(name=name, status="completed", conclusion=conclusion, app_id=app_id)


@pytest.mark.parametrize(("app_id", "state"), [(OURS, "approved"), (99, "rejected")])
def test_only_our_apps_shipcrew_runs_are_left_to_the_policy_gate(app_id: int,
                                                                 state: str) -> None:
    runs = [run("shipcrew / tests", "failure", app_id), run("ci", "success", 99)]
    assert decide([ChecksGate()], evidence(check_runs=runs, own_app_id=OURS)).state == state


def test_everyone_who_pushed_is_held_to_separation_of_duties() -> None:
    ev = evidence(environment="production", pr_author="alice", last_pusher="shipcrew[bot]",
                  pushers=["alice", "maya"])
    gate = ApprovalGate()
    assert approval_problem(gate, approval("maya"), ev) == (
        "pushed to this pull request (separation of duties)")
    assert approval_problem(gate, approval("omar"), ev) is None
    assert approval_problem(ApprovalGate(allow_author=True), approval("maya"), ev) is None


def _waiver(user: str = "maya", sha: str | None = SHA, findings: list[str] | None = None
            ) -> Waiver:
    return Waiver(rule="DKR002", user=user, reason="r", at=NOW, sha=sha, findings=findings)


@pytest.mark.parametrize(("waiver", "now", "problem"), [
    (_waiver(), None, None),
    (_waiver(user="alice"), None, "author or last pusher (separation of duties)"),
    (_waiver(sha="b" * 40), None, "given for bbbbbbb, whose findings differ"),
    (_waiver(sha="b" * 40, findings=["Dockerfile: root"]), ["Dockerfile: root"], None),
    (_waiver(sha="b" * 40, findings=["Dockerfile: root"]),
     ["Dockerfile: root", "w/Dockerfile: root"], "given for bbbbbbb, whose findings differ"),
    (_waiver(sha="b" * 40, findings=["Dockerfile: root"]), [],
     "given for bbbbbbb, whose findings differ"),  # findings unknown: nothing to compare
])
def test_a_waiver_covers_its_commit_or_the_findings_it_was_given_for(
        waiver: Waiver, now: list[str] | None, problem: str | None) -> None:
    ev = evidence(policy_verdict=Verdict.FAIL, policy_failures=["DKR002"],
                  policy_findings=None if now is None else {"DKR002": now})
    assert waiver_problem(PolicyGate(), waiver, ev) == problem
    assert waiver_problem(PolicyGate(allow_author=True), _waiver(user="alice"), ev) is None


def test_fingerprints_are_the_failing_findings_without_lines() -> None:
    def f(path: str, line: int, severity: Severity = Severity.HARD) -> Finding:
        return Finding(rule="DKR002", severity=severity, mode=Mode.ENFORCE, path=path,
                       line=line, message="runs as root", recourse="USER 10001")

    assert fingerprints([f("Dockerfile", 2), f("Dockerfile", 9), f("x", 1, Severity.SOFT)]) == {
        "DKR002": ["Dockerfile: runs as root"]}


T = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
PUSHES = [Push(sha="1" * 40, by="alice", at=T), Push(sha="2" * 40, by="alice",
                                                     at=T + timedelta(seconds=30))]


@pytest.mark.parametrize(("head", "said_at", "named", "bound", "refusal"), [
    ("2" * 40, T + timedelta(seconds=40), None, "2" * 40, ""),
    ("2" * 40, T + timedelta(seconds=30), None, "2" * 40, ""),  # the same second: GitHub's grain
    ("2" * 40, T + timedelta(seconds=10), None, None,
     "a push landed after the comment (`2222222`"),
    ("3" * 40, T + timedelta(seconds=40), None, None, "has not reached shipcrew yet"),
    ("2" * 40, None, None, None, "the comment's time is unknown"),
    ("3" * 40, None, "1111111", "1" * 40, ""),
    ("3" * 40, None, "4444444", None, "`4444444` is not a head of this pull request"),
])
def test_a_comment_is_about_the_head_at_its_created_at(
        head: str, said_at: datetime | None, named: str | None, bound: str | None,
        refusal: str) -> None:
    got = bind_head(PUSHES, head, said_at, named)
    assert got.sha == bound
    assert refusal in got.refusal and bool(refusal) == bool(got.refusal)


@pytest.mark.parametrize(("note", "sha"), [("abc1234 ship it", "abc1234"), ("ship it", None),
                                           ("", None), ("deadbee", "deadbee"), ("abc12", None)])
def test_named_sha(note: str, sha: str | None) -> None:
    assert named_sha(note) == sha


GATED = GatedDeployment(deployment_id=5, run_id=9, environment="staging", sha=SHA)


@pytest.mark.parametrize(("status", "gated", "reason"), [
    ({}, GATED, None),
    ({}, None, "not a deployment our gate approved"),
    ({"creator": "mallory"}, GATED, "posted by @mallory, not by the deploying workflow"),
    ({"workflow_run_id": 10}, GATED, "from run 10, our gate approved run 9"),
    ({"sha": "b" * 40}, GATED, "our gate approved aaaaaaa for staging, not this"),
])
def test_only_the_deploying_workflows_statuses_of_gated_deployments_count(
        status: dict, gated: GatedDeployment | None, reason: str | None) -> None:
    base = {"deployment_id": 5, "environment": "staging", "sha": SHA, "ref": "main",
            "state": "success", "creator": "github-actions[bot]", "workflow_run_id": 9}
    assert untrusted(Status(**{**base, **status}), gated) == reason
