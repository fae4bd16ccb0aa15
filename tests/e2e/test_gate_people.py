"""Gate integrity (issue 10), cases 5-7: approvals and waivers count only from the right
party, for the commit they were given for."""

from __future__ import annotations

import json
import uuid

import httpx

from app.context import JobContext
from app.gitdata import push_to_branch
from tests.e2e.conftest import Crew
from tests.e2e.test_gate_integrity import MIGRATION, _to_production, pending
from tests.e2e.test_release import (
    OWNER,
    Clock,
    R,
    answer,
    bot_comments,
    check,
    deploy,
    open_pr,
    reviews,
    setup_repo,
)
from tests.emulator.hooks import sign


def replay(crew: Crew, delivery: dict) -> int:
    """A captured signed delivery, sent again under a fresh delivery id (the id is not
    covered by the signature)."""
    raw = json.dumps(delivery["payload"]).encode()
    headers = {"X-GitHub-Event": delivery["event"], "X-GitHub-Delivery": str(uuid.uuid4()),
               "X-Hub-Signature-256": sign(crew.emulator.credentials["webhook_secret"], raw),
               "Content-Type": "application/json"}
    return httpx.post(crew.url + "/webhooks", content=raw, headers=headers).status_code


# --- case 5: an approval is bound to what was reviewed ---------------------------------------


def test_case5_a_push_before_the_approval_is_processed_is_not_approved(
        crew: Crew, monkeypatch) -> None:
    clock = Clock(monkeypatch)
    inst = setup_repo(crew)
    pr = open_pr(crew, MIGRATION)
    _to_production(crew, clock, inst, pr["head_sha"], "feature")

    # maya approves what she reviewed; the author pushes before the command is processed.
    crew.emulator.comment(OWNER, R, pr["number"], "/crew approve production", user="maya")
    pushed = crew.emulator.push(OWNER, R, pr["number"], {"migrations/0004.sql": "DROP x;\n"},
                                user="alice")
    crew.work()
    prod = _to_production(crew, clock, inst, pushed["head_sha"], "feature")

    assert pending(crew, prod["run_id"]), reviews(crew, prod["run_id"])
    reply = bot_comments(crew, pr["number"])
    assert any("a push landed after the comment" in c["body"] for c in reply), reply


def test_case5_an_approval_can_name_the_commit(crew: Crew, monkeypatch) -> None:
    clock = Clock(monkeypatch)
    inst = setup_repo(crew)
    pr = open_pr(crew, MIGRATION)
    reviewed = pr["head_sha"]
    prod = _to_production(crew, clock, inst, reviewed, "feature")
    crew.emulator.comment(OWNER, R, pr["number"], f"/crew approve production {reviewed[:10]}",
                          user="maya")
    pushed = crew.emulator.push(OWNER, R, pr["number"], {"docs/x.md": "# x\n"}, user="alice")
    crew.work()

    assert answer(crew, prod["run_id"])["state"] == "approved"  # the commit she named
    later = _to_production(crew, clock, inst, pushed["head_sha"], "feature")
    assert pending(crew, later["run_id"])


def test_case5_a_replayed_approve_delivery_approves_nothing_new(crew: Crew,
                                                                monkeypatch) -> None:
    clock = Clock(monkeypatch)
    inst = setup_repo(crew)
    pr = open_pr(crew, MIGRATION)
    first = _to_production(crew, clock, inst, pr["head_sha"], "feature")
    crew.emulator.comment(OWNER, R, pr["number"], "/crew approve production", user="maya")
    crew.work()
    assert answer(crew, first["run_id"])["state"] == "approved"
    [captured] = [d for d in crew.emulator.deliveries() if d["event"] == "issue_comment"
                  and "/crew approve" in d["payload"]["comment"]["body"]]

    pushed = crew.emulator.push(OWNER, R, pr["number"], {"migrations/0004.sql": "DROP x;\n"},
                                user="alice")
    crew.work()
    later = _to_production(crew, clock, inst, pushed["head_sha"], "feature")
    assert replay(crew, captured) == 202
    crew.work()

    assert pending(crew, later["run_id"]), reviews(crew, later["run_id"])


# --- case 6: who pushed ----------------------------------------------------------------------


def test_case6_a_maintainer_who_pushed_cannot_approve_even_after_the_bot_pushed(
        crew: Crew, monkeypatch) -> None:
    clock = Clock(monkeypatch)
    inst = setup_repo(crew, omar="maintain")
    pr = open_pr(crew, {"app.py": "print(2)\n"})
    theirs = crew.emulator.push(OWNER, R, pr["number"], MIGRATION, user="maya")
    crew.work()
    # The bot's follow-up commit (as the pipeline engineer commits) makes it the last pusher.
    ctx = JobContext(inst, f"{OWNER}/{R}", "test", crew.conn)
    head = push_to_branch(ctx, "feature", theirs["head_sha"], {"CHANGELOG.md": "- x\n"},
                          "shipcrew: follow-up")
    crew.work()
    prod = _to_production(crew, clock, inst, head, "feature")

    crew.emulator.comment(OWNER, R, pr["number"], "/crew approve production", user="maya")
    crew.work()
    assert pending(crew, prod["run_id"]), reviews(crew, prod["run_id"])
    assert "separation of duties" in bot_comments(crew, pr["number"])[-1]["body"]

    crew.emulator.comment(OWNER, R, pr["number"], "/crew approve production", user="omar")
    crew.work()
    assert answer(crew, prod["run_id"])["state"] == "approved"


# --- case 7: waivers -------------------------------------------------------------------------

ROOT = "FROM python:3.12-slim\nUSER root\n"


def _audited(crew: Crew, sha: str) -> None:
    """The real auditor has judged `sha` (DKR002: a Dockerfile runs as root); CI is green."""
    runs = [r for r in crew.emulator.state(OWNER, R)["check_runs"]
            if r["name"] == "shipcrew / policy" and r["head_sha"] == sha]
    assert runs and runs[-1]["conclusion"] == "failure", runs
    check(crew, sha)
    crew.work()


def test_case7_the_author_cannot_waive_their_own_failures(crew: Crew, monkeypatch) -> None:
    Clock(monkeypatch)
    setup_repo(crew, alice="maintain")
    pr = open_pr(crew, {"Dockerfile": ROOT})
    _audited(crew, pr["head_sha"])
    crew.emulator.comment(OWNER, R, pr["number"], "/crew waive DKR002 it is fine", user="alice")
    crew.work()

    got = answer(crew, deploy(crew, "staging", pr["head_sha"], "feature")["run_id"])

    assert got["state"] == "rejected", got["comment"]
    assert "DKR002 not waived" in got["comment"]


def test_case7_a_waiver_covers_the_findings_it_was_given_for(crew: Crew, monkeypatch) -> None:
    Clock(monkeypatch)
    setup_repo(crew)
    pr = open_pr(crew, {"Dockerfile": ROOT})
    _audited(crew, pr["head_sha"])
    crew.emulator.comment(OWNER, R, pr["number"], "/crew waive DKR002 base image needs root",
                          user="maya")
    crew.work()
    more = crew.emulator.push(OWNER, R, pr["number"], {"worker/Dockerfile": ROOT}, user="alice")
    crew.work()
    _audited(crew, more["head_sha"])

    got = answer(crew, deploy(crew, "staging", more["head_sha"], "feature")["run_id"])
    assert got["state"] == "rejected", got["comment"]  # a new root Dockerfile, not waived

    fixed = crew.emulator.push(OWNER, R, pr["number"], {"worker/Dockerfile": None,
                                                        "docs/a.md": "# a\n"}, user="alice")
    crew.work()
    _audited(crew, fixed["head_sha"])
    got = answer(crew, deploy(crew, "staging", fixed["head_sha"], "feature")["run_id"])
    assert got["state"] == "approved", got["comment"]  # the very findings maya waived
