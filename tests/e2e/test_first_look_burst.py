"""A burst of new heads (issue 16): one first-look job also opens the check runs of the first
looks waiting behind it (jobs.first_look), and those jobs then find their work done; a first
look its leader could not finish, or whose leader died, is done by its own job, once."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from rq import SimpleWorker

from app.files import read_tree
from app.queue import FairQueue, Urgency
from jobs import first_look
from tests.e2e.conftest import Crew
from tests.jobs.conftest import REPOS

SERVICE = read_tree(REPOS / "py-fastapi-uv")
PIPELINE = "shipcrew / pipeline"
URGENT = f"rq:queue:{Urgency.URGENT.value}"


def _burst(crew: Crew, n: int) -> list[str]:
    """`n` PRs opened in `n` repos, their deliveries released at once; returns the heads."""
    for i in range(n):
        crew.emulator.create_repo("octo", f"b{i}", SERVICE)
    crew.work()
    crew.emulator.control("POST", "/deliveries/hold")
    heads = [crew.emulator.open_pull("octo", f"b{i}", "feature", {
        "app/main.py": f"# {i}\n" + SERVICE["app/main.py"]}, user="alice")["head_sha"]
        for i in range(n)]
    crew.emulator.control("POST", "/deliveries/release")
    crew.emulator.rt.hooks.drain()
    assert crew.conn.llen(URGENT) == n
    return heads


def _urgent(crew: Crew, max_jobs: int | None = None) -> None:
    SimpleWorker([FairQueue(Urgency.URGENT.value, connection=crew.conn)],
                 connection=crew.conn).work(burst=True, max_jobs=max_jobs,
                                            logging_level="WARNING")


def _pipeline_runs(crew: Crew, i: int, head: str) -> list[dict[str, Any]]:
    return [r for r in crew.emulator.state("octo", f"b{i}")["check_runs"]
            if r["head_sha"] == head and r["name"] == PIPELINE]


def _posts(crew: Crew) -> int:
    return sum(1 for r in crew.emulator.requests()
               if r["method"] == "POST" and r["path"].endswith("/check-runs"))


def test_one_first_look_opens_the_runs_of_those_waiting_behind_it(crew: Crew) -> None:
    heads = _burst(crew, 5)
    crew.emulator.clear_requests()
    _urgent(crew, max_jobs=1)
    assert _posts(crew) == 5  # all five queued runs, by the one job
    for i, head in enumerate(heads):
        assert [r["status"] for r in _pipeline_runs(crew, i, head)] == ["queued"]
    assert crew.conn.llen(f"rq:queue:{Urgency.DEFAULT.value}") == 5  # every plan enqueued
    assert crew.conn.llen(URGENT) == 4
    crew.emulator.clear_requests()
    _urgent(crew)  # the other four jobs find their plans enqueued: no call at all
    assert crew.emulator.requests() == []
    crew.work()
    for i, head in enumerate(heads):  # the same runs were completed, none opened twice
        assert [(r["status"], r["conclusion"]) for r in _pipeline_runs(crew, i, head)] == [
            ("completed", "success")]


def test_a_first_look_the_leader_could_not_finish_is_done_once_by_its_own_job(
        crew: Crew, monkeypatch: pytest.MonkeyPatch) -> None:
    from app import checks

    real = checks.open_queued

    def lost_in_the_leader(*args: Any, **kwargs: Any) -> int:
        run = real(*args, **kwargs)  # the run is created; in a leader's thread, the answer
        if threading.current_thread().name.startswith("shipcrew-first-look"):  # is lost
            raise TimeoutError("GitHub did not answer")
        return run

    heads = _burst(crew, 3)
    monkeypatch.setattr(checks, "open_queued", lost_in_the_leader)
    _urgent(crew, max_jobs=1)
    assert crew.conn.llen(f"rq:queue:{Urgency.DEFAULT.value}") == 1  # only the leader's plan
    monkeypatch.setattr(checks, "open_queued", real)
    crew.work()
    for i, head in enumerate(heads):
        assert [(r["status"], r["conclusion"]) for r in _pipeline_runs(crew, i, head)] == [
            ("completed", "success")]


def test_a_first_look_claimed_by_a_killed_leader_is_taken_over(crew: Crew) -> None:
    heads = _burst(crew, 2)
    # the second job's first look was claimed by a leader whose worker is gone
    second = crew.conn.lrange(URGENT, -1, -1)[0].decode()  # type: ignore[union-attr]
    crew.conn.set(first_look.CLAIM.format(job=second), "gone--open-checks|gone-worker")
    crew.work()
    for i, head in enumerate(heads):
        assert [(r["status"], r["conclusion"]) for r in _pipeline_runs(crew, i, head)] == [
            ("completed", "success")]
    assert not crew.conn.exists(first_look.CLAIM.format(job=second))
