"""The urgent first look at a new head (issue 16): its check runs are open as `queued` once the
urgent queue alone has run, and the jobs that finish them complete those same runs."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from rq import SimpleWorker

from app.files import read_tree
from app.queue import FairQueue, Urgency
from jobs.planner import open_checks
from jobs.release.store import GateStore
from tests.e2e.conftest import Crew
from tests.jobs.conftest import REPOS

SERVICE = read_tree(REPOS / "py-fastapi-uv")
PIPELINE, POLICY = "shipcrew / pipeline", "shipcrew / policy"


def _urgent_only(crew: Crew) -> None:
    SimpleWorker([FairQueue(Urgency.URGENT.value, connection=crew.conn)],
                 connection=crew.conn).work(burst=True, logging_level="WARNING")


def _runs(crew: Crew, owner: str, name: str, sha: str) -> list[dict[str, Any]]:
    return [r for r in crew.emulator.state(owner, name)["check_runs"] if r["head_sha"] == sha]


def _open(crew: Crew, owner: str, name: str, files: dict[str, str | None]) -> str:
    pr = crew.emulator.open_pull(owner, name, "feature", files, user="alice")
    return str(pr["head_sha"])


def test_the_urgent_step_opens_the_run_the_pipeline_then_completes(crew: Crew) -> None:
    crew.emulator.create_repo("octo", "first", SERVICE)
    crew.work()
    head = _open(crew, "octo", "first", {"app/main.py": "# v2\n" + SERVICE["app/main.py"]})
    _urgent_only(crew)
    [queued] = _runs(crew, "octo", "first", head)
    assert (queued["name"], queued["status"]) == (PIPELINE, "queued")
    assert crew.conn.lrange("rq:queue:shipcrew-default", 0, -1)  # the plan, enqueued by it
    crew.work()
    [done] = _runs(crew, "octo", "first", head)  # the same run, nothing opened twice
    assert (done["id"], done["status"], done["conclusion"]) == (queued["id"], "completed",
                                                                "success")
    final = crew.emulator.state("octo", "first")["branches"]["feature"]
    assert final != head  # the crew committed; its verdict is on the new head
    assert [r["status"] for r in _runs(crew, "octo", "first", final) if r["name"] == POLICY] \
        == ["completed"]
    # who pushed each head is recorded: alice's by the first look, the bot's by its own job
    pushes = GateStore(crew.conn, "octo/first").pushes([1])
    assert [(p.sha, p.by) for p in pushes][0] == (head, "alice")
    assert [p.sha for p in pushes] == [head, final]


def test_a_docs_only_change_gets_its_queued_pipeline_run_closed_as_skipped(crew: Crew) -> None:
    crew.emulator.create_repo("octo", "docs", SERVICE)
    crew.work()
    head = _open(crew, "octo", "docs", {"README.md": "# more words\n"})
    crew.work()
    runs = {r["name"]: r for r in _runs(crew, "octo", "docs", head)}
    assert sorted(runs) == [PIPELINE, POLICY]
    assert (runs[PIPELINE]["status"], runs[PIPELINE]["conclusion"]) == ("completed", "skipped")
    assert "docs-only" in runs[PIPELINE]["output"]["title"]
    assert runs[POLICY]["status"] == "completed"


def test_in_suggest_mode_both_runs_open_at_once_and_the_audit_takes_its_own(crew: Crew) -> None:
    config = {".github/shipcrew.yml": "generate:\n  mode: suggest\n"}
    crew.emulator.create_repo("octo", "suggest", {**SERVICE, **config})
    crew.work()
    _open(crew, "octo", "suggest", {"app/main.py": "# v2\n" + SERVICE["app/main.py"]})
    crew.work()  # the first plan learns the repo's mode
    head = crew.emulator.push("octo", "suggest", 1, {"app/main.py": "# v3\n"},
                              user="alice")["head_sha"]
    _urgent_only(crew)
    queued = sorted((r["name"], r["status"]) for r in _runs(crew, "octo", "suggest", head))
    assert queued == [(PIPELINE, "queued"), (POLICY, "queued")]
    ids = {r["name"]: r["id"] for r in _runs(crew, "octo", "suggest", head)}
    crew.work()
    runs = _runs(crew, "octo", "suggest", head)
    assert sorted((r["name"], r["id"], r["status"]) for r in runs) == [
        (PIPELINE, ids[PIPELINE], "completed"), (POLICY, ids[POLICY], "completed")]
    [policy] = [r for r in runs if r["name"] == POLICY]
    assert policy["external_id"].startswith("pr:1;job=")  # "Apply fixes" finds its PR


def test_a_retried_first_look_after_the_plan_was_enqueued_does_nothing(crew: Crew) -> None:
    repo = crew.emulator.create_repo("octo", "again", SERVICE)
    crew.work()
    head = _open(crew, "octo", "again", {"app/main.py": "# v2\n" + SERVICE["app/main.py"]})
    _urgent_only(crew)
    crew.emulator.clear_requests()
    [plan_id] = [j.decode() for j in crew.conn.lrange(  # type: ignore[union-attr]
        "rq:queue:shipcrew-default", 0, -1)]
    delivery = plan_id.rpartition("--")[0]
    again = open_checks(installation_id=repo["installation_id"], repo="octo/again", number=1,
                        head_sha=head, delivery_id=delivery, conn=crew.conn)
    assert again["status"] == "planned already"
    assert crew.emulator.requests() == []


def test_a_transient_error_is_retried_before_planning_and_nothing_is_opened_twice(
        crew: Crew, monkeypatch: pytest.MonkeyPatch) -> None:
    from app import checks
    from app.maintenance import enqueue_due

    real = checks.open_queued

    def lands_then_times_out(*args: Any, **kwargs: Any) -> int:
        real(*args, **kwargs)  # the run is created, the answer is lost
        raise httpx.ReadTimeout("GitHub did not answer")

    crew.emulator.create_repo("octo", "flaky", SERVICE)
    crew.work()
    monkeypatch.setattr(checks, "open_queued", lands_then_times_out)
    head = _open(crew, "octo", "flaky", {"app/main.py": "# v2\n" + SERVICE["app/main.py"]})
    _urgent_only(crew)
    assert crew.conn.llen("rq:queue:shipcrew-default") == 0  # not planned yet: retried first
    monkeypatch.setattr(checks, "open_queued", real)
    enqueue_due(crew.conn, time.time() + 60)
    crew.work()
    [run] = _runs(crew, "octo", "flaky", head)  # the retry found the run that had landed
    assert (run["name"], run["status"], run["conclusion"]) == (PIPELINE, "completed", "success")
