"""Release manager end to end: GitHub asks the protection rule, the App answers from evidence.

Everything goes through the emulator's control API (a workflow job waiting on an
environment, check runs, comments, deployment statuses), the App's real web endpoint, real
RQ workers and real Redis. Check runs of our own App (the auditor's `shipcrew / policy`) are
created with the App's installation client, exactly as the auditor does.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry

from app.github import client_for
from app.queue import Urgency
from jobs.release import store as gate_store
from jobs.release.packet import MARKER
from tests.e2e.conftest import Crew

OWNER, R = "octo", "shop"
DELIVERY = """name: delivery
on:
  push:
    branches: [main]
  workflow_dispatch:
    inputs:
      environment: {type: string, required: true}
      sha: {type: string, required: false}
permissions: {}
jobs:
  deploy:
    runs-on: ubuntu-24.04
    environment: ${{ inputs.environment }}
    steps:
      - run: echo deploy
"""
BASE = {"README.md": "# shop\n", "app.py": "print(1)\n", ".github/workflows/delivery.yml": DELIVERY}
T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # a Wednesday


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, start: datetime = T0) -> None:
        self.now = start
        monkeypatch.setattr(gate_store, "clock", lambda: self.now)

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def setup_repo(crew: Crew, config: str | None = None, files: dict[str, str] | None = None,
               **people: str) -> int:
    files = {**BASE, **(files or {})}
    if config is not None:
        files[".github/shipcrew.yml"] = config
    created = crew.emulator.create_repo(OWNER, R, files)
    for env in ("staging", "production"):
        crew.emulator.control("POST", f"/repos/{OWNER}/{R}/environments", {"name": env})
    for user, permission in {"alice": "write", "maya": "maintain", **people}.items():
        crew.emulator.control("POST", f"/repos/{OWNER}/{R}/collaborators",
                              {"user": user, "permission": permission})
    crew.work()
    return int(created["installation_id"])


def check(crew: Crew, sha: str, name: str = "ci / test", conclusion: str = "success") -> None:
    """A check run by another CI app."""
    crew.emulator.control("POST", f"/repos/{OWNER}/{R}/check-runs", {
        "name": name, "head_sha": sha, "status": "completed", "conclusion": conclusion,
        "app_slug": "other-ci"})


def policy(crew: Crew, inst: int, sha: str, conclusion: str = "success",
           failures: list[str] | None = None) -> None:
    """The auditor's verdict: its Redis record and its check run, posted as the App."""
    verdict = {"success": "pass", "failure": "fail"}.get(conclusion, "review")
    crew.conn.set(f"shipcrew:verdict:{OWNER}/{R}:{sha}",
                  json.dumps({"verdict": verdict, "failures": failures or []}))
    client_for(inst).rest.checks.create(OWNER, R, data={
        "name": "shipcrew / policy", "head_sha": sha, "status": "completed",
        "conclusion": conclusion, "output": {"title": verdict, "summary": verdict}})


def green(crew: Crew, inst: int, sha: str) -> None:
    check(crew, sha)
    policy(crew, inst, sha)
    crew.work()


def deploy(crew: Crew, env: str, sha: str, ref: str = "main") -> dict[str, Any]:
    out = crew.emulator.deploy(OWNER, R, env, sha=sha, ref=ref)
    crew.work()
    return dict(out)


def status(crew: Crew, deployment_id: int, state: str) -> None:
    crew.emulator.control("POST", f"/repos/{OWNER}/{R}/deployments/{deployment_id}/statuses",
                          {"state": state})
    crew.work()


def reviews(crew: Crew, run_id: int) -> list[dict[str, Any]]:
    return [r for r in crew.emulator.state(OWNER, R)["protection_rule_reviews"]
            if r["run_id"] == run_id]


def answer(crew: Crew, run_id: int) -> dict[str, Any]:
    final = [r for r in reviews(crew, run_id) if r["state"] is not None]
    assert len(final) == 1, reviews(crew, run_id)
    return final[0]


def bot_comments(crew: Crew, number: int) -> list[dict[str, Any]]:
    return [c for c in crew.emulator.state(OWNER, R)["comments"]
            if c["issue_number"] == number and c["user"] == crew.emulator.bot_login]


def packet(crew: Crew, number: int) -> str:
    found = [c["body"] for c in bot_comments(crew, number) if MARKER in c["body"]]
    assert len(found) == 1, found
    return str(found[0])


def open_pr(crew: Crew, files: dict[str, str | None], user: str = "alice",
            head: str = "feature") -> dict[str, Any]:
    pr = crew.emulator.open_pull(OWNER, R, head, files, user=user)
    crew.work()
    return dict(pr)


def test_low_risk_change_is_approved_to_staging(crew: Crew, monkeypatch) -> None:
    Clock(monkeypatch)
    inst = setup_repo(crew)
    pr = open_pr(crew, {"docs/guide.md": "# guide\n"})
    green(crew, inst, pr["head_sha"])

    run = deploy(crew, "staging", pr["head_sha"], "feature")

    got = answer(crew, run["run_id"])
    assert got["state"] == "approved"
    assert "shipcrew: approved for staging" in got["comment"]
    assert "checks: 1 check run(s) passed" in got["comment"]
    assert "policy: verdict pass" in got["comment"]
    decisions = crew.audit("gate_decision")
    assert [(d["environment"], d["state"], d["evidence"]["tier"]) for d in decisions] == [
        ("staging", "approved", "low")]
    # (a docs-only change: the first look's queued pipeline run was closed as skipped)
    assert decisions[0]["evidence"]["checks"] == {"ci / test": "success",
                                                  "shipcrew / pipeline": "skipped",
                                                  "shipcrew / policy": "success"}
    body = packet(crew, pr["number"])
    assert "| 1 | `staging` | ✅ approved |" in body
    assert "| 2 | `production` | · not requested |" in body
    assert "verdict: **pass**" in body and "`ci / test`: success" in body


@pytest.mark.parametrize(("ci", "verdict", "failures", "reason"), [
    ("failure", "success", [], "❌ checks failed: `ci / test` (failure)"),
    ("success", "failure", ["GHA001"], "❌ policy: verdict fail (GHA001 not waived)"),
], ids=["failing-check", "failing-policy"])
def test_reject_with_the_reason(crew: Crew, monkeypatch, ci: str, verdict: str,
                                failures: list[str], reason: str) -> None:
    Clock(monkeypatch)
    inst = setup_repo(crew)
    pr = open_pr(crew, {"app.py": "print(2)\n"})
    check(crew, pr["head_sha"], conclusion=ci)
    policy(crew, inst, pr["head_sha"], verdict, failures)
    crew.work()

    run = deploy(crew, "staging", pr["head_sha"], "feature")

    got = answer(crew, run["run_id"])
    assert got["state"] == "rejected"
    assert reason in got["comment"]
    assert "| 1 | `staging` | ❌ rejected |" in packet(crew, pr["number"])


def test_waived_policy_failure_is_approved(crew: Crew, monkeypatch) -> None:
    Clock(monkeypatch)
    inst = setup_repo(crew)
    pr = open_pr(crew, {"app.py": "print(2)\n"})
    check(crew, pr["head_sha"])
    policy(crew, inst, pr["head_sha"], "failure", ["GHA001"])
    crew.emulator.comment(OWNER, R, pr["number"], "/crew waive GHA001 legacy job, fixed in #12",
                          user="maya")
    crew.work()

    run = deploy(crew, "staging", pr["head_sha"], "feature")

    got = answer(crew, run["run_id"])
    assert got["state"] == "approved", got["comment"]
    assert "every failing rule waived (GHA001 by @maya)" in got["comment"]


def test_freeze_window_rejects_with_the_window(crew: Crew, monkeypatch) -> None:
    clock = Clock(monkeypatch, datetime(2026, 3, 7, 12, 0, tzinfo=UTC))  # a Saturday
    config = """environments:
  staging:
    freeze:
      - cron: "0 18 * * fri"
        duration: 2d12h
        timezone: Europe/Berlin
        reason: weekend
"""
    inst = setup_repo(crew, config)
    pr = open_pr(crew, {"docs/guide.md": "# guide\n"})
    green(crew, inst, pr["head_sha"])

    run = deploy(crew, "staging", pr["head_sha"], "feature")

    got = answer(crew, run["run_id"])
    assert got["state"] == "rejected"
    assert ("❌ freeze: staging is frozen, freeze (weekend) from 2026-03-06 18:00 CET "
            "to 2026-03-09 06:00 CET") in got["comment"]
    # Monday after the window: the next deployment goes through.
    clock.now = datetime(2026, 3, 9, 6, 0, tzinfo=UTC)
    assert answer(crew, deploy(crew, "staging", pr["head_sha"], "feature")["run_id"])[
        "state"] == "approved"


def test_high_risk_change_waits_for_another_maintainer(crew: Crew, monkeypatch) -> None:
    clock = Clock(monkeypatch)
    inst = setup_repo(crew, alice="maintain")
    pr = open_pr(crew, {"migrations/0002_add_email.sql": "ALTER TABLE users ADD email text;\n"})
    sha, number = pr["head_sha"], pr["number"]
    green(crew, inst, sha)
    staging = deploy(crew, "staging", sha, "feature")
    assert answer(crew, staging["run_id"])["state"] == "approved"  # no approval gate there
    status(crew, staging["deployment_id"], "success")
    clock.advance(minutes=5)

    prod = deploy(crew, "production", sha, "feature")

    assert [r["state"] for r in reviews(crew, prod["run_id"])] == [None]  # a status report
    report = reviews(crew, prod["run_id"])[0]["comment"]
    assert report.startswith("shipcrew: pending for production")
    assert "⏳ approval: 0 of 1, awaiting `/crew approve production`" in report
    assert "✅ `staging`: deployed successfully 5 min ago" in report

    # The author, a maintainer herself, may not approve her own high-risk change.
    crew.emulator.comment(OWNER, R, number, "/crew approve production", user="alice")
    crew.work()
    refusal = bot_comments(crew, number)[-1]["body"]
    assert "refused: separation of duties: @alice authored this pull request" in refusal
    assert "(environments.production.allow_author is not set)" in refusal
    assert [r["state"] for r in reviews(crew, prod["run_id"])] == [None]

    crew.emulator.comment(OWNER, R, number, "/crew approve production ship it", user="maya")
    crew.work()

    got = answer(crew, prod["run_id"])
    assert got["state"] == "approved"
    assert "✅ approval: 1 of 1 (@maya)" in got["comment"]
    reply = bot_comments(crew, number)[-1]["body"]
    assert "Approval of" in reply and "✅ `production` gate" in reply
    states = [(d["environment"], d["state"], d["trigger"]) for d in crew.audit("gate_decision")]
    assert states[::-1] == [("staging", "approved", "deployment requested"),
                            ("production", "pending", "deployment requested"),
                            ("production", "approved", "approval by @maya")]
    assert "| 2 | `production` | ✅ approved |" in packet(crew, number)


def test_soak_time_holds_production_until_it_has_passed(crew: Crew, monkeypatch) -> None:
    clock = Clock(monkeypatch)
    inst = setup_repo(crew, "environments:\n  production:\n    soak_minutes: 30\n")
    pr = open_pr(crew, {"docs/guide.md": "# guide\n"})
    sha = pr["head_sha"]
    green(crew, inst, sha)
    staging = deploy(crew, "staging", sha, "feature")
    status(crew, staging["deployment_id"], "success")
    clock.advance(minutes=10)

    prod = deploy(crew, "production", sha, "feature")

    report = reviews(crew, prod["run_id"])[-1]
    assert report["state"] is None
    assert "⏳ `staging`: soaking, 10 of 30 min since its deployment" in report["comment"]
    # A re-check is scheduled for the moment the soak ends.
    queue = Queue(Urgency.URGENT.value, connection=crew.conn)
    registry = ScheduledJobRegistry(queue=queue)
    [job_id] = registry.get_job_ids()
    assert registry.get_scheduled_time(job_id) == T0 + timedelta(minutes=30)
    # An approval nobody needs changes nothing: an identical report is not posted twice.
    crew.emulator.comment(OWNER, R, pr["number"], "/crew approve production", user="maya")
    crew.work()
    assert len(reviews(crew, prod["run_id"])) == 1

    clock.advance(minutes=21)
    registry.remove(job_id)
    queue.enqueue_job(queue.fetch_job(job_id))
    crew.work()

    got = answer(crew, prod["run_id"])
    assert got["state"] == "approved"
    assert "✅ `staging`: deployed successfully 31 min ago, soak 30 min met" in got["comment"]
