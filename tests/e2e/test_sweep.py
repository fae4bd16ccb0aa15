"""The sweep (app.sweep) completes check runs of ours that no job will complete: a queued run
whose job was never enqueued, an in-progress run whose job ended without completing it; it
leaves alone the runs of jobs still to run, and makes a bounded number of GitHub calls."""

from __future__ import annotations

import time
from typing import Any

from app import checks, sweep
from app.context import job_context
from app.metrics import render
from app.queue import JobSpec, enqueue
from tests.e2e.conftest import Crew

OWNER = "octo"
PIPELINE = "shipcrew / pipeline"


def opens_for_next(*, installation_id: int, repo: str, head_sha: str, number: int,
                   next_job: str) -> int:
    """A planner that opens the queued run of the job it enqueues next, then does not."""
    ctx = job_context(installation_id, repo, "d-sweep")
    return checks.open_queued(ctx.gh, ctx.conn, next_job, ctx.owner, ctx.name, name=PIPELINE,
                              head_sha=head_sha, title="Queued")


def starts_and_returns(*, installation_id: int, repo: str, head_sha: str, number: int) -> int:
    """A job that opens its run and ends without completing it."""
    ctx = job_context(installation_id, repo, "d-sweep")
    return checks.start(ctx.gh, ctx.owner, ctx.name, name=PIPELINE, head_sha=head_sha,
                        title="Working")


def _pr(crew: Crew, name: str) -> dict[str, Any]:
    crew.emulator.create_repo(OWNER, name, {"README.md": "# r\n"})
    pr = crew.emulator.open_pull(OWNER, name, "feature", {"docs/a.md": "a\n"}, user="alice")
    crew.work()
    return pr


def _run(crew: Crew, name: str, pr: dict[str, Any], func: str, delivery: str,
         **extra: Any) -> None:
    install = next(iter(crew.emulator.store.installations.values())).id
    enqueue(crew.conn, delivery, JobSpec("plan", f"tests.e2e.test_sweep.{func}", {
        "installation_id": install, "repo": f"{OWNER}/{name}", "head_sha": pr["head_sha"],
        "number": pr["number"], **extra}))
    crew.work()


def _runs(crew: Crew, name: str, job_id: str) -> list[dict[str, Any]]:
    return [r for r in crew.emulator.state(OWNER, name)["check_runs"]
            if r["name"] == PIPELINE and checks.job_of(r.get("external_id") or "") == job_id]


def _later() -> float:
    return time.time() + sweep.SETTLE + 1


def test_a_queued_run_whose_job_never_came_fails_saying_so(crew: Crew) -> None:
    pr = _pr(crew, "never")
    _run(crew, "never", pr, "opens_for_next", "d-never", next_job="d-never--generate")
    [run] = _runs(crew, "never", "d-never--generate")
    assert run["status"] == "queued"
    assert sweep.sweep(crew.conn, time.time()) == 0  # too fresh to judge
    assert sweep.sweep(crew.conn, _later()) == 1
    [run] = _runs(crew, "never", "d-never--generate")
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    assert "never ran" in run["output"]["summary"]
    assert not run.get("actions")  # nothing that Retry could run again
    assert crew.conn.zcard(checks.OPEN_INDEX) == 0
    assert sweep.sweep(crew.conn, _later()) == 0
    assert "shipcrew_checks_swept_total 1" in render(crew.conn)


def test_a_run_left_open_by_an_ended_job_on_a_moved_head_is_skipped(crew: Crew) -> None:
    pr = _pr(crew, "moved")
    _run(crew, "moved", pr, "starts_and_returns", "d-moved")
    [run] = _runs(crew, "moved", "d-moved--plan")
    assert run["status"] == "in_progress"
    crew.emulator.push(OWNER, "moved", pr["number"], {"docs/b.md": "b\n"}, user="alice")
    crew.work()
    assert sweep.sweep(crew.conn, _later()) == 1
    [run] = _runs(crew, "moved", "d-moved--plan")
    assert (run["status"], run["conclusion"]) == ("completed", "skipped")
    assert "ended `finished`" in run["output"]["summary"]


def test_the_run_of_a_job_still_to_run_is_left_alone(crew: Crew) -> None:
    """The job is queued (it will take the run over), or not yet enqueued by a job of its
    delivery still queued (the pipeline engineer enqueues the audit when it is done)."""
    pr = _pr(crew, "waits")
    for awaited in ("generate", "audit"):
        _run(crew, "waits", pr, "opens_for_next", f"d-{awaited}", next_job=f"d-waits--{awaited}")
    install = next(iter(crew.emulator.store.installations.values())).id
    enqueue(crew.conn, "d-waits", JobSpec("generate", "tests.e2e.test_sweep.starts_and_returns",
                                          {"installation_id": install, "repo": f"{OWNER}/waits",
                                           "head_sha": pr["head_sha"], "number": pr["number"]}))
    assert sweep.sweep(crew.conn, _later()) == 0
    assert [r["status"] for r in _runs(crew, "waits", "d-waits--generate")
            + _runs(crew, "waits", "d-waits--audit")] == ["queued", "queued"]
    assert crew.conn.zcard(checks.OPEN_INDEX) == 2


def test_one_sweep_makes_a_bounded_number_of_github_calls(crew: Crew) -> None:
    pr = _pr(crew, "many")
    n = sweep.MAX_CALLS // 3 + 2
    for i in range(n):
        _run(crew, "many", pr, "opens_for_next", f"d-many{i}", next_job=f"d-many{i}--generate")
    crew.emulator.clear_requests()
    assert sweep.sweep(crew.conn, _later()) == sweep.MAX_CALLS // 3
    calls = [r for r in crew.emulator.requests() if "/repos/" in r["path"]]
    assert len(calls) <= sweep.MAX_CALLS
    assert sweep.sweep(crew.conn, _later()) == 2
    assert all(r["status"] == "completed" for r in crew.emulator.state(OWNER, "many")
               ["check_runs"] if r["name"] == PIPELINE)
