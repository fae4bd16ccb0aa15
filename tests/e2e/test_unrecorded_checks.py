"""A worker killed between `POST check-runs` and recording the run's id leaves a run only
GitHub knows of: the retry that finds its work stale, the dead letter, and a retried planner
still find that run (by name on the head and the job named in its external_id) and complete
or reuse it; and a job killed after completing its run reuses that run when retried. The
kill is real: a forking RQ worker's work horse SIGKILLs itself the moment the emulator has
answered the POST (or the job has published)."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

from rq import Worker, get_current_job

from app import checks
from app.context import job_context
from app.maintenance import enqueue_due
from app.queue import JobSpec, enqueue, queues
from tests.e2e.conftest import Crew

OWNER = "octo"
PIPELINE = "shipcrew / pipeline"


def _killed_after_create(gh: Any) -> None:
    """This process dies as soon as its next check run has been created on GitHub."""
    create = gh.rest.checks.create

    def create_then_die(*args: Any, **kwargs: Any) -> Any:
        create(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)

    gh.rest.checks.create = create_then_die


def _first_attempt() -> bool:
    job = get_current_job()
    assert job is not None
    return int(job.connection.incr(f"test:attempts:{job.id}")) == 1


def opens_then_is_killed(*, installation_id: int, repo: str, head_sha: str,
                         number: int) -> str:
    """Killed right after opening its run; a later attempt finds the PR moved on."""
    ctx = job_context(installation_id, repo, "d-killed")
    if ctx.current_pull(number, head_sha, "test") is None:
        return "stale"
    if _first_attempt():
        _killed_after_create(ctx.gh)
    checks.start(ctx.gh, ctx.owner, ctx.name, name=PIPELINE, head_sha=head_sha,
                 title="Working")
    return "done"


def killed_then_fails(*, installation_id: int, repo: str, head_sha: str, number: int) -> str:
    """Killed right after opening its run; the next attempt fails for good before `start`."""
    ctx = job_context(installation_id, repo, "d-killed")
    if not _first_attempt():
        raise ValueError("the template exploded")
    _killed_after_create(ctx.gh)
    checks.start(ctx.gh, ctx.owner, ctx.name, name=PIPELINE, head_sha=head_sha,
                 title="Working")
    return "done"


def queues_then_is_killed(*, installation_id: int, repo: str, head_sha: str,
                          number: int) -> int:
    """A planner: opens the queued run of the job it is about to enqueue."""
    ctx = job_context(installation_id, repo, "d-killed")
    if ctx.current_pull(number, head_sha, "plan") is None:
        return -1
    if _first_attempt():
        _killed_after_create(ctx.gh)
    return checks.open_queued(ctx.gh, ctx.conn, "d-next--generate", ctx.owner, ctx.name,
                              name=PIPELINE, head_sha=head_sha, title="Queued")


def publishes_then_is_killed(*, installation_id: int, repo: str, head_sha: str,
                             number: int) -> int:
    """The pipeline engineer's shape: takes over the planner's queued run, completes it, and
    dies (on its first attempt) before the job is marked finished."""
    ctx = job_context(installation_id, repo, "d-killed")
    run_id = checks.start(ctx.gh, ctx.owner, ctx.name, name=PIPELINE, head_sha=head_sha,
                          title="Working")
    checks.publish(ctx.gh, ctx.owner, ctx.name, name=PIPELINE, head_sha=head_sha,
                   conclusion="success", title="Done", summary="Done", check_run_id=run_id)
    if _first_attempt():
        os.kill(os.getpid(), signal.SIGKILL)
    return run_id


def _pr(crew: Crew, name: str) -> dict[str, Any]:
    crew.emulator.create_repo(OWNER, name, {"README.md": "# r\n"})
    pr = crew.emulator.open_pull(OWNER, name, "feature", {"docs/a.md": "a\n"}, user="alice")
    crew.work()
    return pr


def _fork_work(crew: Crew) -> None:
    """A forking worker, as `shipcrew worker` runs them: each job in a work horse."""
    Worker(queues(crew.conn), connection=crew.conn).work(burst=True, logging_level="ERROR")


def _run_killed(crew: Crew, func: str, pr: dict[str, Any], name: str) -> dict[str, Any]:
    install = next(iter(crew.emulator.store.installations.values())).id
    enqueue(crew.conn, f"d-{name}", JobSpec(name, f"tests.e2e.test_unrecorded_checks.{func}", {
        "installation_id": install, "repo": f"{OWNER}/{name}", "head_sha": pr["head_sha"],
        "number": pr["number"]}))
    _fork_work(crew)
    [run] = _ours(crew, name, f"d-{name}--{name}")
    assert run["status"] == "in_progress" or run["status"] == "queued"
    assert crew.conn.get(f"shipcrew:open-check:d-{name}--{name}") is None  # never recorded
    return run


def _ours(crew: Crew, name: str, job_id: str) -> list[dict[str, Any]]:
    return [r for r in crew.emulator.state(OWNER, name)["check_runs"]
            if r["name"] == PIPELINE and checks.job_of(r.get("external_id") or "") == job_id]


def _retry_due(crew: Crew) -> None:
    enqueue_due(crew.conn, time.time() + 600)  # the retry's backoff has passed
    _fork_work(crew)
    crew.work()


def test_a_stale_retry_completes_the_run_its_killed_attempt_never_recorded(crew: Crew) -> None:
    pr = _pr(crew, "killed")
    run = _run_killed(crew, "opens_then_is_killed", pr, "killed")
    crew.emulator.push(OWNER, "killed", pr["number"], {"docs/b.md": "b\n"}, user="alice")
    crew.work()
    _retry_due(crew)
    [after] = _ours(crew, "killed", "d-killed--killed")
    assert after["id"] == run["id"]
    assert (after["status"], after["conclusion"]) == ("completed", "skipped")
    assert "a newer head than" in after["output"]["summary"]


def test_a_dead_letter_fails_the_run_its_killed_attempt_never_recorded(crew: Crew) -> None:
    pr = _pr(crew, "lost")
    run = _run_killed(crew, "killed_then_fails", pr, "lost")
    _retry_due(crew)
    [after] = _ours(crew, "lost", "d-lost--lost")
    assert after["id"] == run["id"]
    assert (after["status"], after["conclusion"]) == ("completed", "failure")
    assert "ValueError: the template exploded" in after["output"]["summary"]
    assert [a["identifier"] for a in after["actions"]] == ["retry"]
    # the dead letter completed the run it found instead of opening one of its own
    names = {r["name"] for r in crew.emulator.state(OWNER, "lost")["check_runs"]}
    assert "shipcrew / lost" not in names


def _planner_killed(crew: Crew, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    pr = _pr(crew, name)
    install = next(iter(crew.emulator.store.installations.values())).id
    enqueue(crew.conn, f"d-{name}", JobSpec("plan", "tests.e2e.test_unrecorded_checks."
                                            "queues_then_is_killed", {
        "installation_id": install, "repo": f"{OWNER}/{name}", "head_sha": pr["head_sha"],
        "number": pr["number"]}))
    _fork_work(crew)
    [run] = _ours(crew, name, "d-next--generate")
    assert run["status"] == "queued"
    assert crew.conn.get("shipcrew:open-check:d-next--generate") is None
    return pr, run


def test_a_retried_planner_reuses_the_queued_run_its_killed_attempt_opened(crew: Crew) -> None:
    pr, run = _planner_killed(crew, "planned")
    _retry_due(crew)
    assert [r["id"] for r in _ours(crew, "planned", "d-next--generate")] == [run["id"]]
    assert crew.conn.get("shipcrew:open-check:d-next--generate") == str(run["id"]).encode()


def test_a_job_killed_after_completing_its_run_reuses_it_when_retried(crew: Crew) -> None:
    from app.github import client_for

    pr = _pr(crew, "done")
    install = next(iter(crew.emulator.store.installations.values())).id
    queued = checks.open_queued(client_for(install), crew.conn, "d-done--done", OWNER, "done",
                                name=PIPELINE, head_sha=pr["head_sha"], title="Queued")
    enqueue(crew.conn, "d-done", JobSpec("done", "tests.e2e.test_unrecorded_checks."
                                         "publishes_then_is_killed", {
        "installation_id": install, "repo": f"{OWNER}/done", "head_sha": pr["head_sha"],
        "number": pr["number"]}))
    _fork_work(crew)
    _retry_due(crew)
    [run] = _ours(crew, "done", "d-done--done")
    assert (run["id"], run["status"], run["conclusion"]) == (queued, "completed", "success")


def test_a_stale_planner_retry_completes_the_queued_run_its_killed_attempt_opened(
        crew: Crew) -> None:
    pr, run = _planner_killed(crew, "moved")
    crew.emulator.push(OWNER, "moved", pr["number"], {"docs/b.md": "b\n"}, user="alice")
    crew.work()
    _retry_due(crew)
    [after] = _ours(crew, "moved", "d-next--generate")
    assert after["id"] == run["id"]
    assert (after["status"], after["conclusion"]) == ("completed", "skipped")
