"""A job that dies after opening a check run does not leave it spinning forever."""

from __future__ import annotations

from app import checks
from app.github import client_for
from app.queue import JobSpec, enqueue
from tests.e2e.conftest import Crew


def opens_then_dies(*, installation_id: int, repo: str, head_sha: str) -> None:
    owner, name = repo.split("/")
    checks.start(client_for(installation_id), owner, name, name="shipcrew / pipeline",
                 head_sha=head_sha, title="Working")
    raise ValueError("template exploded")


def test_final_failure_completes_the_open_check_run(crew: Crew) -> None:
    emu = crew.emulator
    repo = emu.create_repo("octo", "orphan", {"a.txt": "a\n"})
    sha = emu.state("octo", "orphan")["branches"]["main"]
    enqueue(crew.conn, "d-orphan", JobSpec("die", "tests.e2e.test_orphan_checks.opens_then_dies",
                                          {"installation_id": repo["installation_id"],
                                           "repo": "octo/orphan", "head_sha": sha}))
    crew.work()
    [run] = emu.state("octo", "orphan")["check_runs"]
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    assert run["output"]["title"] == "shipcrew errored"
    assert "ValueError: template exploded" in run["output"]["summary"]


def starts_twice(*, installation_id: int, repo: str, head_sha: str) -> list[int]:
    """What a retried job does: start its check run again under the same job id."""
    owner, name = repo.split("/")
    gh = client_for(installation_id)
    return [checks.start(gh, owner, name, name="shipcrew / pipeline", head_sha=head_sha,
                         title="Working") for _ in range(2)]


def test_a_job_reuses_the_check_run_it_opened(crew: Crew) -> None:
    emu = crew.emulator
    repo = emu.create_repo("octo", "retry", {"a.txt": "a\n"})
    sha = emu.state("octo", "retry")["branches"]["main"]
    enqueue(crew.conn, "d-retry", JobSpec("twice", "tests.e2e.test_orphan_checks.starts_twice",
                                         {"installation_id": repo["installation_id"],
                                          "repo": "octo/retry", "head_sha": sha}))
    crew.work()
    assert len(emu.state("octo", "retry")["check_runs"]) == 1
