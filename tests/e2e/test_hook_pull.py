"""The plan takes the PR from the webhook (app.handoff) only while it is current: a PR
closed or pushed to before its plan runs is read from GitHub, and its work is dropped."""

from __future__ import annotations

from app.files import read_tree
from app.queue import SERVED, Urgency
from app.worker import run_worker
from tests.e2e.conftest import Crew
from tests.jobs.conftest import REPOS

SERVICE = read_tree(REPOS / "py-fastapi-uv")
OWNER = "octo"


def _pr_reads(crew: Crew, name: str) -> int:
    return sum(1 for r in crew.emulator.requests()
               if (r["method"], r["path"]) == ("GET", f"/repos/{OWNER}/{name}/pulls/1"))


def _open(crew: Crew, name: str, branch: str = "feature") -> str:
    emu = crew.emulator
    emu.create_repo(OWNER, name, SERVICE)
    crew.work()
    emu.clear_requests()
    opened = emu.open_pull(OWNER, name, branch, {"app/main.py": "# v2\n" + SERVICE["app/main.py"]},
                           user="alice")
    return str(opened["head_sha"])


def test_a_pr_closed_before_its_plan_is_read_and_gets_no_commit(crew: Crew) -> None:
    head = _open(crew, "closed")
    crew.emulator.control("POST", f"/repos/{OWNER}/closed/pulls/1/close", {"user": "alice"})
    crew.work()
    state = crew.emulator.state(OWNER, "closed")
    assert state["branches"]["feature"] == head  # nothing committed to a closed PR
    assert _pr_reads(crew, "closed") == 1  # the close made the plan ask GitHub
    assert [e["job"] for e in crew.audit("stale")] == ["plan"]
    assert {r["status"] for r in state["check_runs"]} == {"completed"}  # none left queued


def test_a_newer_push_before_the_plan_leaves_only_the_newer_head_worked_on(
        crew: Crew) -> None:
    first = _open(crew, "moved")
    crew.emulator.push(OWNER, "moved", 1, {"docs/a.md": "a\n"}, user="alice")
    crew.work()
    state = crew.emulator.state(OWNER, "moved")
    stale = crew.audit("stale")
    assert [(e["job"], e["head_sha"]) for e in stale] == [("plan", first)]
    # the older plan's file list was of the newer head: it read the PR; the newer did not
    assert _pr_reads(crew, "moved") == 1
    heads = {r["head_sha"] for r in state["check_runs"] if r["name"] == "shipcrew / policy"
             and r["status"] == "completed" and r["conclusion"] != "skipped"}
    assert first not in heads and state["branches"]["feature"] in heads


def test_a_branch_name_cannot_claim_another_installations_fair_share(
        crew: Crew, redis_url: str) -> None:
    # `,installation_id=` in the branch is in the webhook's PR the jobs carry; app.queue's
    # fair share reads the installation from the job's description, last match wins
    _open(crew, "hostile", branch="x,installation_id=999")
    assert run_worker(redis_url, burst=True) == 0  # the worker `shipcrew worker` runs
    owners: set[str] = set()
    for urgency in Urgency:
        served = crew.conn.hkeys(SERVED.format(queue=urgency.value))
        owners |= {k.decode() for k in served} - {"#"}  # type: ignore[union-attr]
    assert owners == {str(crew.emulator.state(OWNER, "hostile")["installation_id"])}
