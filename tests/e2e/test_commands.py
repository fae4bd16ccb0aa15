"""`/crew` commands end to end: a person comments on the emulated PR, the App answers there."""

from __future__ import annotations

from rq.job import Job

from tests.e2e.conftest import Crew
from tests.e2e.test_release import (
    OWNER,
    Clock,
    R,
    answer,
    bot_comments,
    deploy,
    green,
    open_pr,
    setup_repo,
    status,
)


def comment(crew: Crew, number: int, body: str, user: str) -> int:
    cid = int(crew.emulator.comment(OWNER, R, number, body, user=user)["id"])
    crew.work()
    return cid


def test_reaction_and_one_reply_per_command_updated_in_place(crew: Crew, monkeypatch) -> None:
    Clock(monkeypatch)
    setup_repo(crew, bob="read")
    pr = open_pr(crew, {"migrations/0002.sql": "select 1;\n"})
    number = pr["number"]

    cid = comment(crew, number, "LGTM\n/crew plan\n/crew deploy staging\n/crew frobnicate\n"
                                "```\n/crew rollback production\n```\n", user="bob")

    state = crew.emulator.state(OWNER, R)
    assert [(r["comment_id"], r["content"]) for r in state["reactions"]] == [(cid, "eyes")]
    replies = bot_comments(crew, number)
    # One reply for the unknown command (with the help), one per command, each "working"
    # note replaced by the outcome; the command inside the code fence is not one.
    assert len(replies) == 3
    unknown, plan, refusal = (r["body"] for r in replies)
    assert "line 4: unknown command `frobnicate`" in unknown
    assert "`/crew approve ENV [note]`" in unknown  # the help text
    assert plan.startswith("> `/crew plan`\n\n@bob\n\n### shipcrew plan")
    assert "**Risk tier: high**" in plan and "migrations/0002.sql is a database migration" in plan
    assert "**production** requires:" in plan and "1 approval(s) with `/crew approve`" in plan
    assert "working on" not in plan
    refusal, marker = refusal.rsplit("\n\n", 1)
    assert marker == f"<!-- shipcrew:reply {cid}:3 -->"  # how a retry finds its reply
    assert refusal == ("> `/crew deploy staging`\n\n@bob 🚫 refused: `deploy` needs maintain "
                       "permission or membership in commands.approver_teams (default matrix); "
                       "@bob has read")
    assert crew.emulator.state(OWNER, R)["dispatches"] == []
    # The reply was posted once and edited, not posted again.
    calls = [(r["method"], r["path"].split("?")[0]) for r in crew.emulator.requests()]
    assert calls.count(("POST", f"/repos/{OWNER}/{R}/issues/{number}/comments")) == 3
    assert [m for m, p in calls if p.startswith(f"/repos/{OWNER}/{R}/issues/comments/")
            and not p.endswith("/reactions")] == ["PATCH", "PATCH"]


def test_deploy_generate_audit_explain(crew: Crew, monkeypatch) -> None:
    Clock(monkeypatch)
    setup_repo(crew)
    pr = open_pr(crew, {"app.py": "print(2)\n"})
    number, sha = pr["number"], pr["head_sha"]

    comment(crew, number, "/crew deploy staging\n/crew generate docker\n/crew audit\n"
                          "/crew explain gha002", user="maya")

    state = crew.emulator.state(OWNER, R)
    assert [(d["workflow"], d["ref"], d["inputs"]) for d in state["dispatches"]] == [
        ("delivery.yml", "feature", {"environment": "staging", "sha": sha})]
    deploy_reply, generate, audit, explain = (c["body"] for c in bot_comments(crew, number))
    assert "dispatched `delivery.yml` on `feature`" in deploy_reply
    assert "regenerates docker" in generate and "auditor re-evaluates" in audit
    assert "**GHA002: Action not pinned to a full commit SHA** (`policies/workflows.rego`)" \
        in explain
    # The other agents' jobs were queued with the PR's head (they run in their own modules).
    jobs = {j.func_name: j.kwargs for j in Job.fetch_many(
        [jid for jid in _all_job_ids(crew) if "-generate-" in jid or "-audit-" in jid],
        connection=crew.conn) if j is not None}
    assert jobs["jobs.pipeline.generate_for_pull_request"]["artifacts"] == ["docker"]
    assert jobs["jobs.auditor.audit_pull_request"]["head_sha"] == sha


def _all_job_ids(crew: Crew) -> list[str]:
    return [k.decode().removeprefix("rq:job:") for k in crew.conn.keys("rq:job:*")
            if b":" not in k.removeprefix(b"rq:job:")]


def test_why_shows_history_and_the_last_decision(crew: Crew, monkeypatch) -> None:
    Clock(monkeypatch)
    inst = setup_repo(crew)
    pr = open_pr(crew, {"docs/a.md": "a\n"})
    number, sha = pr["number"], pr["head_sha"]
    green(crew, inst, sha)
    run = deploy(crew, "staging", sha, "feature")
    assert answer(crew, run["run_id"])["state"] == "approved"
    status(crew, run["deployment_id"], "success")

    comment(crew, number, "/crew why staging", user="alice")

    why = bot_comments(crew, number)[-1]["body"]
    assert "Last decision: ✅ **approved** for" in why and "(deployment requested)" in why
    assert "- ✅ policy: verdict pass" in why
    assert f"| 2026-03-04 10:00 UTC | `{sha[:7]}` | feature | success | @github-actions[bot] |" \
        in why


def test_broken_config_is_reported_with_file_and_line(crew: Crew, monkeypatch) -> None:
    Clock(monkeypatch)
    setup_repo(crew, "environments:\n  production:\n    soak_minutes: soon\n")
    number = open_pr(crew, {"app.py": "print(2)\n"})["number"]

    comment(crew, number, "/crew plan", user="maya")

    reply = bot_comments(crew, number)[-1]["body"]
    assert "`.github/shipcrew.yml` on the default branch is invalid" in reply
    assert ".github/shipcrew.yml:3:5: environments.production.soak_minutes:" in reply
