"""One pull request from code to production, every agent for real: the pipeline engineer
commits the pipeline, the auditor judges the new head, the release manager gates staging and
production from that verdict, and a maintainer's approval releases the high-risk change."""

from __future__ import annotations

from pathlib import Path

from app.files import read_tree
from tests.e2e.conftest import Crew
from tests.e2e.test_release import Clock, answer, check, reviews

SAMPLE = Path(__file__).parent.parent / "jobs/repos/py-fastapi-uv"
OWNER, R = "octo", "shop"  # the names test_release's helpers use


def _deploy(crew: Crew, env: str, sha: str) -> int:
    run = crew.emulator.deploy(OWNER, R, env, sha=sha, ref="feature")
    crew.work()
    return int(run["run_id"])


def test_pull_request_to_production(crew: Crew, monkeypatch) -> None:
    clock = Clock(monkeypatch)
    emu = crew.emulator
    emu.create_repo(OWNER, R, read_tree(SAMPLE))
    for env in ("staging", "production"):
        emu.control("POST", f"/repos/{OWNER}/{R}/environments", {"name": env})
    for user, permission in {"alice": "write", "maya": "maintain"}.items():
        emu.control("POST", f"/repos/{OWNER}/{R}/collaborators",
                    {"user": user, "permission": permission})

    pr = emu.open_pull(OWNER, R, "feature", {"app/main.py": "# v2\n" + (
        SAMPLE / "app/main.py").read_text(),
        "migrations/0002_add_email.sql": "ALTER TABLE users ADD email text;\n"}, user="alice")
    crew.work()

    state = emu.state(OWNER, R)
    head = state["branches"]["feature"]
    [generated] = [c for c in state["commits"] if c["sha"] == head]
    assert generated["parents"] == [pr["head_sha"]]  # one commit on top of the human's push
    files = state["files"]["feature"]
    assert {".github/workflows/ci.yml", ".github/workflows/delivery.yml", "Dockerfile"} <= set(
        files)
    runs = {(r["name"], r["head_sha"]): r for r in state["check_runs"]}
    assert runs[("shipcrew / pipeline", pr["head_sha"])]["conclusion"] == "success"
    # The bot's commit was audited (never regenerated) and what the crew generated passes.
    assert runs[("shipcrew / policy", head)]["conclusion"] == "success"
    # never regenerated: one generation; its summary is also on the head the PR shows
    assert [e["status"] for e in crew.audit("generate")] == ["committed"]
    assert runs[("shipcrew / pipeline", head)]["output"]["summary"] == runs[
        ("shipcrew / pipeline", pr["head_sha"])]["output"]["summary"]

    check(crew, head)  # the repository's own CI, green on the new head
    crew.work()
    staging = _deploy(crew, "staging", head)
    assert answer(crew, staging)["state"] == "approved"
    [deployment] = [d for d in emu.state(OWNER, R)["deployments"] if d["environment"] == "staging"]
    emu.control("POST", f"/repos/{OWNER}/{R}/deployments/{deployment['id']}/statuses",
                {"state": "success"})
    crew.work()
    clock.advance(minutes=30)

    # A migration: high risk, production waits for a maintainer (the workflows and chart
    # shipcrew generated and validated do not count toward the risk).
    production = _deploy(crew, "production", head)
    assert [r["state"] for r in reviews(crew, production)] == [None]  # a status report
    emu.comment(OWNER, R, pr["number"], "/crew approve production", user="alice",
                permission="write")
    crew.work()
    assert [r["state"] for r in reviews(crew, production)] == [None]
    emu.comment(OWNER, R, pr["number"], "/crew approve production ship it", user="maya",
                permission="maintain")
    crew.work()
    got = answer(crew, production)
    assert got["state"] == "approved", got["comment"]
