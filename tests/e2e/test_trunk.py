"""The path teams take to production: PR → audit → merge → push to `main` audited → `main`
to staging → production held for a high-risk change → approved in GitHub's own "Review
deployments" dialog → released; a failed deployment rolled back during a freeze.

Everything goes through the emulator's control API as a team would act on GitHub (merge
button, reviewers dialog, Actions reporting deployment statuses), the App's real webhook
endpoint, real RQ workers and real Redis. Only CI's check runs come from "another app".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e.conftest import Crew
from tests.e2e.test_release import DELIVERY, Clock

ORG, R = "acme", "shop"
P = f"/repos/{ORG}/{R}"
CONFIG = """generate: {mode: "off"}
environments:
  production:
    requires: [staging]
    freeze:
      - cron: "0 18 * * fri"
        duration: 2d12h
        reason: weekend
"""
FILES = {"README.md": "# shop\n", "app.py": "print(1)\n", ".github/shipcrew.yml": CONFIG,
         ".github/workflows/delivery.yml": DELIVERY}


def ctl(crew: Crew, method: str, path: str, body: dict | None = None) -> Any:
    out = crew.emulator.control(method, path, body)
    crew.work()
    return out


def ci(crew: Crew, sha: str) -> None:
    ctl(crew, "POST", f"{P}/check-runs", {"name": "ci / test", "head_sha": sha,
                                          "status": "completed", "conclusion": "success",
                                          "app_slug": "other-ci"})


def runs_on(crew: Crew, sha: str, name: str = "shipcrew / policy") -> list[dict[str, Any]]:
    return [r for r in crew.emulator.state(ORG, R)["check_runs"]
            if r["head_sha"] == sha and r["name"] == name]


def deploy(crew: Crew, env: str, sha: str, user: str = "maya", **extra: Any) -> dict[str, Any]:
    return dict(ctl(crew, "POST", f"{P}/environments/{env}/deploy",
                    {"sha": sha, "ref": "main", "user": user, **extra}))


def answers(crew: Crew, run_id: int) -> list[dict[str, Any]]:
    return [r for r in crew.emulator.state(ORG, R)["protection_rule_reviews"]
            if r["run_id"] == run_id]


def final(crew: Crew, run_id: int) -> dict[str, Any]:
    done = [r for r in answers(crew, run_id) if r["state"] is not None]
    assert len(done) == 1, answers(crew, run_id)
    return done[0]


def report(crew: Crew, run_id: int) -> str:
    return str(answers(crew, run_id)[-1]["comment"])


def status(crew: Crew, deployment_id: int, state: str) -> None:
    ctl(crew, "POST", f"{P}/deployments/{deployment_id}/statuses", {"state": state})


def native(crew: Crew, run_id: int, user: str, state: str = "approved") -> None:
    ctl(crew, "POST", f"{P}/actions/runs/{run_id}/review",
        {"environment": "production", "state": state, "user": user})


def packet(crew: Crew, number: int) -> str:
    from jobs.release.packet import MARKER

    found = [c["body"] for c in crew.emulator.state(ORG, R)["comments"]
             if c["issue_number"] == number and MARKER in c["body"]]
    assert len(found) == 1, found
    return str(found[0])


@pytest.mark.slow
def test_merge_to_main_then_production_through_github_reviewers(
        crew: Crew, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock(monkeypatch, datetime(2026, 3, 4, 10, 0, tzinfo=UTC))  # a Wednesday
    crew.emulator.create_repo(ORG, R, FILES, org=True)
    for user, permission in {"alice": "write", "maya": "maintain"}.items():
        ctl(crew, "POST", f"{P}/collaborators", {"user": user, "permission": permission})
    ctl(crew, "POST", f"{P}/environments", {"name": "staging"})
    ctl(crew, "POST", f"{P}/environments", {
        "name": "production", "reviewers": [{"type": "User", "login": "alice"},
                                            {"type": "User", "login": "maya"}]})

    # A first version reaches production (a direct push of docs: low risk, no approval).
    first = ctl(crew, "POST", f"{P}/push", {"branch": "main", "user": "maya",
                                            "files": {"docs/ops.md": "# ops\n"}})["sha"]
    assert [r["conclusion"] for r in runs_on(crew, first)] == ["success"]
    ci(crew, first)
    s1 = deploy(crew, "staging", first)
    assert final(crew, s1["run_id"])["state"] == "approved"
    status(crew, s1["deployment_id"], "success")
    p1 = deploy(crew, "production", first)
    native(crew, p1["run_id"], "maya")  # GitHub's own reviewers guard every deployment there
    assert final(crew, p1["run_id"])["state"] == "approved"
    status(crew, p1["deployment_id"], "success")

    # PR → audit → merge.
    pr = ctl(crew, "POST", f"{P}/pulls", {"head": "add-email", "user": "alice",
                                          "title": "Add email", "files": {
                                              "migrations/0002_add_email.sql":
                                              "ALTER TABLE users ADD email text;\n"}})
    assert [r["conclusion"] for r in runs_on(crew, pr["head_sha"])] == ["success"]
    ci(crew, pr["head_sha"])
    merged = ctl(crew, "POST", f"{P}/pulls/{pr['number']}/merge",
                 {"method": "merge", "user": "maya"})["sha"]

    # The push to main is audited: the merge commit has its own verdict, and its lineage.
    policy = runs_on(crew, merged)
    assert [r["conclusion"] for r in policy] == ["success"]
    assert f"inherits the evidence of #{pr['number']}" in policy[0]["output"]["summary"]
    ci(crew, merged)

    # main → staging (the protection-rule payload names no PR: the lineage does).
    s2 = deploy(crew, "staging", merged)
    assert final(crew, s2["run_id"])["state"] == "approved"
    status(crew, s2["deployment_id"], "success")
    clock.advance(minutes=5)

    # Production is held for the high-risk migration, even once GitHub's reviewers approve:
    # the author's approval in the dialog does not count.
    p2 = deploy(crew, "production", merged)
    assert "⏳ approval: 0 of 1" in report(crew, p2["run_id"])
    native(crew, p2["run_id"], "alice")
    held = report(crew, p2["run_id"])
    assert "@alice in GitHub review not counted: author or last pusher" in held
    assert [r["state"] for r in answers(crew, p2["run_id"])] == [None, None]

    # The job is re-run; a maintainer approves it in the dialog: released.
    p3 = deploy(crew, "production", merged)
    native(crew, p3["run_id"], "maya")
    got = final(crew, p3["run_id"])
    assert got["state"] == "approved", got["comment"]
    assert "✅ approval: 1 of 1 (@maya in GitHub review)" in got["comment"]
    assert "✅ `staging`: deployed successfully 5 min ago" in got["comment"]
    status(crew, p3["deployment_id"], "success")
    body = packet(crew, pr["number"])

    assert "| `production` | 🚀 deployed |" in body and "| `staging` | 🚀 deployed |" in body
    assert "- ✅ approval: 1 of 1 (@maya in GitHub review)" in body
    crew.emulator.comment(ORG, R, pr["number"], "/crew why production", user="alice")
    crew.work()
    why = [c["body"] for c in crew.emulator.state(ORG, R)["comments"]
           if c["user"] == crew.emulator.bot_login][-1]
    assert f"**approved** for `{merged[:7]}`" in why and "@maya in GitHub review" in why

    # Saturday, inside the freeze: the release fails and shipcrew rolls production back; the
    # rollback to a version that already ran there passes freeze and approval.
    clock.now = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
    status(crew, p3["deployment_id"], "failure")
    dispatched = crew.emulator.state(ORG, R)["dispatches"]
    assert [(d["inputs"]["environment"], d["inputs"]["sha"]) for d in dispatched] == [
        ("production", first)]
    back = deploy(crew, "production", first, user="github-actions[bot]",
                  event="workflow_dispatch")
    native(crew, back["run_id"], "maya")
    got = final(crew, back["run_id"])
    assert got["state"] == "approved", got["comment"]
    assert "rollback: " in got["comment"] and "bypassing approval, freeze, soak" in got["comment"]
    # an ordinary deployment in the freeze is still refused
    frozen = deploy(crew, "production", merged)
    assert final(crew, frozen["run_id"])["state"] == "rejected"
    assert crew.emulator.rt.hooks.schema_errors == []


def test_crew_setup_replies_with_the_plan_and_applies_only_with_the_permission(
        crew: Crew) -> None:
    from tests.emulator.state import DEFAULT_PERMISSIONS

    config = CONFIG + "    reviewers: {users: [maya]}\n    branches: [main]\n"
    crew.emulator.create_repo(ORG, R, {**FILES, ".github/shipcrew.yml": config}, org=True)
    ctl(crew, "POST", f"{P}/collaborators", {"user": "maya", "permission": "maintain"})
    pr = ctl(crew, "POST", f"{P}/pulls", {"head": "docs", "user": "maya",
                                          "files": {"docs/a.md": "a\n"}})

    def setup() -> str:
        crew.emulator.comment(ORG, R, pr["number"], "/crew setup", user="olga",
                              permission="admin")
        crew.work()
        return str([c for c in crew.emulator.state(ORG, R)["comments"]
                    if c["user"] == crew.emulator.bot_login][-1]["body"])

    planned = setup()
    assert "Planned (not applied: the App has no `administration` permission" in planned
    assert "+ production: reviewer user:maya" in planned
    assert [e["name"] for e in crew.emulator.state(ORG, R)["environments"]] == []
    crew.emulator.configure(app_permissions={**DEFAULT_PERMISSIONS,
                                             "administration": "write"})
    applied = setup()
    assert "Applied:" in applied and "+ production: protection_rule shipcrew" in applied
    [env] = crew.emulator.state(ORG, R)["environments"]
    assert env["reviewers"] == [{"type": "User", "login": "maya"}]
    assert env["custom_rules"] == [crew.emulator.store.app.id]
