"""Nothing lost, nothing twice: missed deliveries come back, dead letters can be retried,
and a retried job finds the check run and the reply its earlier attempt made."""

from __future__ import annotations

import time
from typing import Any

import redis
from rq import get_current_job

from app import checks
from app.github import GitHubApp, client_for
from app.queue import JobSpec, enqueue
from app.recovery import recover
from tests.e2e.conftest import Crew

OWNER = "octo"


def _pr(crew: Crew, name: str) -> dict[str, Any]:
    crew.emulator.create_repo(OWNER, name, {"README.md": "# r\n"})
    pr = crew.emulator.open_pull(OWNER, name, "feature", {"docs/a.md": "a\n"}, user="alice")
    crew.work()
    return pr


def _bot_replies(crew: Crew, name: str, token: str) -> list[dict[str, Any]]:
    return [c for c in crew.emulator.state(OWNER, name)["comments"]
            if c["user"] == crew.emulator.bot_login and token in c["body"]]


def test_a_delivery_refused_while_the_app_was_down_is_redelivered(crew: Crew) -> None:
    emu = crew.emulator
    pr = _pr(crew, "missed")
    emu.set_webhook_url("http://127.0.0.1:9/webhooks")  # the App is unreachable
    emu.comment(OWNER, "missed", pr["number"], "/crew why missed-env", user="alice")
    emu.set_webhook_url(crew.url + "/webhooks")
    assert _bot_replies(crew, "missed", "missed-env") == []
    gh = GitHubApp(crew.settings).app_client()
    assert recover(crew.conn, gh, time.time()) == 1
    emu.deliveries()  # waits for the redelivery to land
    crew.work()
    assert len(_bot_replies(crew, "missed", "missed-env")) == 1
    assert recover(crew.conn, gh, time.time()) == 0  # delivered now: not asked again
    attempts = [d for d in emu.deliveries() if d["event"] == "issue_comment"]
    assert [d["redelivery"] for d in attempts] == [False, True]
    assert attempts[0]["guid"] == attempts[1]["guid"]


def publishes_then_fails_once(*, installation_id: int, repo: str, head_sha: str,
                              number: int) -> int:
    """Publishes a verdict, then dies (a transient error) on its first attempt."""
    owner, name = repo.split("/")
    run_id = checks.publish(client_for(installation_id), owner, name, name="shipcrew / policy",
                            head_sha=head_sha, conclusion="success", title="ok", summary="ok",
                            external_id=f"pr:{number}")
    job = get_current_job()
    assert job is not None
    if job.connection.incr(f"tries:{job.id}") == 1:
        # as if the worker died between the POST and recording the run's id
        job.connection.hset(f"shipcrew:created-checks:{job.id}",
                            f"shipcrew / policy@{head_sha}", "")
        raise redis.ConnectionError("worker lost Redis")
    return run_id


def _run_job(crew: Crew, func: str, pr: dict[str, Any], name: str) -> None:
    install = next(iter(crew.emulator.store.installations.values())).id
    enqueue(crew.conn, f"d-{name}", JobSpec(name, func, {
        "installation_id": install, "repo": f"{OWNER}/{name}", "head_sha": pr["head_sha"],
        "number": pr["number"]}))
    crew.work()


def _runs(crew: Crew, name: str, check: str) -> list[dict[str, Any]]:
    return [r for r in crew.emulator.state(OWNER, name)["check_runs"] if r["name"] == check]


def test_a_retried_job_completes_the_check_run_it_created(crew: Crew) -> None:
    pr = _pr(crew, "twice")
    before = len(_runs(crew, "twice", "shipcrew / policy"))
    _run_job(crew, "tests.e2e.test_reliability.publishes_then_fails_once", pr, "twice")
    from app.maintenance import enqueue_due

    enqueue_due(crew.conn, time.time() + 60)  # the retry's backoff has passed
    crew.work()
    runs = [r for r in _runs(crew, "twice", "shipcrew / policy")
            if r["head_sha"] == pr["head_sha"]]
    assert len(runs) == before + 1  # the audit's own verdict, and ours once
    ours = [r for r in runs if (r.get("external_id") or "").startswith("pr:")
            and ";job=d-twice--twice" in r["external_id"]]
    assert len(ours) == 1


def fails_until_fixed(*, installation_id: int, repo: str, head_sha: str, number: int) -> str:
    job = get_current_job()
    assert job is not None
    if not job.connection.exists("fixed"):
        raise ValueError("the template exploded")
    return "ok"


def test_a_dead_letter_fails_its_check_run_and_retry_runs_it_again(crew: Crew) -> None:
    emu = crew.emulator
    pr = _pr(crew, "dead")
    _run_job(crew, "tests.e2e.test_reliability.fails_until_fixed", pr, "dead")
    [run] = _runs(crew, "dead", "shipcrew / dead")
    assert (run["status"], run["conclusion"]) == ("completed", "failure")
    assert "ValueError: the template exploded" in run["output"]["summary"]
    assert [a["identifier"] for a in run["actions"]] == ["retry"]
    crew.conn.set("fixed", 1)
    # /crew retry from the PR runs the PR's last failed job again
    emu.comment(OWNER, "dead", pr["number"], "/crew retry", user="alice", permission="write")
    crew.work()
    [reply] = _bot_replies(crew, "dead", "/crew retry")
    assert "Retrying `dead`" in reply["body"]
    from rq.job import Job

    assert Job.fetch("d-dead--dead", connection=crew.conn).return_value() == "ok"
    # nothing left to retry; the button says so too
    emu.control("POST", f"/repos/{OWNER}/dead/check-runs/{run['id']}/action",
                {"identifier": "retry", "user": "alice"})
    crew.work()
    entries = crew.audit("retry")
    assert sorted(str(e["job"]) for e in entries) == ["None", "d-dead--dead"]
    metrics = crew.conn.hgetall("shipcrew:metrics:reliability")
    assert metrics[b"dead_letter|tests.e2e.test_reliability.fails_until_fixed"] == b"1"
    assert metrics[b"retry_requested|tests.e2e.test_reliability.fails_until_fixed"] == b"1"


def opens_then_loses_redis(*, installation_id: int, repo: str, head_sha: str,
                           number: int) -> str:
    """Opens its check run, dies once; the retry finds the PR moved on."""
    from app.context import job_context

    ctx = job_context(installation_id, repo, "d-stale")
    if ctx.current_pull(number, head_sha, "test") is None:
        return "stale"
    checks.start(ctx.gh, ctx.owner, ctx.name, name="shipcrew / pipeline", head_sha=head_sha,
                 title="Working")
    raise redis.ConnectionError("worker lost Redis")


def test_a_stale_retry_completes_the_run_its_first_attempt_opened(crew: Crew) -> None:
    from app.maintenance import enqueue_due

    pr = _pr(crew, "stale")
    _run_job(crew, "tests.e2e.test_reliability.opens_then_loses_redis", pr, "stale")
    # (the first look's queued run of this docs-only PR was closed as skipped by its plan)
    [run] = [r for r in _runs(crew, "stale", "shipcrew / pipeline") if r["status"] != "completed"]
    assert run["status"] == "in_progress"
    crew.emulator.push(OWNER, "stale", pr["number"], {"docs/b.md": "b\n"}, user="alice")
    crew.work()
    enqueue_due(crew.conn, time.time() + 60)
    crew.work()
    [run] = [r for r in _runs(crew, "stale", "shipcrew / pipeline") if r["id"] == run["id"]]
    assert (run["status"], run["conclusion"]) == ("completed", "skipped")
    assert "a newer head than" in run["output"]["summary"]


def test_a_retry_that_finds_its_own_commit_on_the_branch_succeeds(crew: Crew) -> None:
    from app.context import job_context
    from app.gitdata import push_to_branch

    pr = _pr(crew, "commit")
    install = next(iter(crew.emulator.store.installations.values())).id
    ctx = job_context(install, f"{OWNER}/commit", "d-commit", crew.conn)
    changes = {"Dockerfile": "FROM scratch\n"}
    first = push_to_branch(ctx, "feature", pr["head_sha"], changes, "Add a Dockerfile")
    # the worker died before reporting: the retry does the same work on the same parent
    again = push_to_branch(ctx, "feature", pr["head_sha"], changes, "Add a Dockerfile")
    assert again == first
    state = crew.emulator.state(OWNER, "commit")
    assert state["branches"]["feature"] == first
    # someone else's change on top of the same parent is still refused (422)
    import pytest
    from githubkit.exception import RequestFailed

    with pytest.raises(RequestFailed):
        push_to_branch(ctx, "feature", pr["head_sha"], {"Dockerfile": "FROM busybox\n"}, "x")


def _asks_and_dies(url: str, settings: Any, now: float) -> None:
    """The recovery job's process, SIGKILLed as it asks GitHub to redeliver."""
    import os
    import signal

    gh = GitHubApp(settings).app_client()
    gh.rest.apps.redeliver_webhook_delivery = (  # type: ignore[method-assign]
        lambda *args, **kwargs: os.kill(os.getpid(), signal.SIGKILL))
    recover(redis.Redis.from_url(url), gh, now)


def test_a_redelivery_whose_ask_died_with_its_worker_is_asked_again(
        crew: Crew, redis_url: str) -> None:
    import multiprocessing

    from app.recovery import ASK_AGAIN

    emu = crew.emulator
    pr = _pr(crew, "asked")
    emu.set_webhook_url("http://127.0.0.1:9/webhooks")
    emu.comment(OWNER, "asked", pr["number"], "/crew why asked-env", user="alice")
    emu.set_webhook_url(crew.url + "/webhooks")
    now = time.time()
    child = multiprocessing.get_context("fork").Process(
        target=_asks_and_dies, args=(redis_url, crew.settings, now))
    child.start()
    child.join()
    assert child.exitcode == -9  # killed while asking: GitHub never got the ask
    gh = GitHubApp(crew.settings).app_client()
    assert recover(crew.conn, gh, now + 1) == 0  # its redelivery may still be on its way
    assert recover(crew.conn, gh, now + ASK_AGAIN + 1) == 1  # it was not: asked again
    emu.deliveries()
    crew.work()
    assert len(_bot_replies(crew, "asked", "asked-env")) == 1
