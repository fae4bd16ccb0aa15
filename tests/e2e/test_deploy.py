"""Deployment orchestrator end to end: history from deployment statuses, automatic rollback."""

from __future__ import annotations

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


def test_failed_deployment_rolls_back_to_the_last_good_version(crew: Crew, monkeypatch) -> None:
    clock = Clock(monkeypatch)
    inst = setup_repo(crew)
    good = crew.emulator.state(OWNER, R)["branches"]["main"]
    green(crew, inst, good)
    first = deploy(crew, "staging", good, "main")
    assert answer(crew, first["run_id"])["state"] == "approved"
    status(crew, first["deployment_id"], "success")
    clock.advance(minutes=10)

    pr = open_pr(crew, {"app.py": "print(2)\n"})
    green(crew, inst, pr["head_sha"])
    bad = deploy(crew, "staging", pr["head_sha"], "feature")
    assert answer(crew, bad["run_id"])["state"] == "approved"
    status(crew, bad["deployment_id"], "failure")

    state = crew.emulator.state(OWNER, R)
    assert [(d["workflow"], d["ref"], d["inputs"]) for d in state["dispatches"]] == [
        ("delivery.yml", "main", {"environment": "staging", "sha": good})]
    [rollback] = crew.audit("rollback")
    assert (rollback["outcome"], rollback["target_sha"], rollback["failed_sha"]) == (
        "dispatched", good, pr["head_sha"])
    notice = bot_comments(crew, pr["number"])[-1]["body"]
    assert f"Deployment of `{pr['head_sha'][:7]}` to `staging` reported **failure**" in notice
    assert f"Rolling `staging` back to `{good[:7]}` (last good, deployed 2026-03-04 10:00 UTC)" \
        in notice
    assert [d["state"] for d in crew.audit("deployment")][::-1] == ["success", "failure"]

    # The same failure delivered again (GitHub retries) does not roll back twice.
    status(crew, bad["deployment_id"], "error")
    assert len(crew.emulator.state(OWNER, R)["dispatches"]) == 1


def test_failure_with_no_good_version_says_so(crew: Crew, monkeypatch) -> None:
    Clock(monkeypatch)
    inst = setup_repo(crew)
    pr = open_pr(crew, {"app.py": "print(2)\n"})
    green(crew, inst, pr["head_sha"])
    run = deploy(crew, "staging", pr["head_sha"], "feature")
    status(crew, run["deployment_id"], "error")

    assert crew.emulator.state(OWNER, R)["dispatches"] == []
    assert "No rollback of `staging`: no earlier version was deployed there successfully" in \
        bot_comments(crew, pr["number"])[-1]["body"]
    assert crew.audit("rollback")[0]["outcome"] == "no_good_version"


def test_rejected_deployment_is_not_rolled_back(crew: Crew, monkeypatch) -> None:
    Clock(monkeypatch)
    inst = setup_repo(crew)
    pr = open_pr(crew, {"app.py": "print(2)\n"})
    green(crew, inst, pr["head_sha"])
    crew.emulator.control("POST", f"/repos/{OWNER}/{R}/check-runs", {
        "name": "ci / e2e", "head_sha": pr["head_sha"], "status": "completed",
        "conclusion": "failure", "app_slug": "other-ci"})
    run = deploy(crew, "staging", pr["head_sha"], "feature")
    assert answer(crew, run["run_id"])["state"] == "rejected"
    # GitHub reports the rejected deployment as failed; nothing ran, nothing to roll back.
    status(crew, run["deployment_id"], "failure")

    assert crew.audit("rollback") == []
    assert crew.audit("deployment")[0]["outcome"] == "rejected_by_gate"


def _fails_once_around_post(monkeypatch, after: bool) -> None:
    """The first rollback comment's attempt loses Redis (a transient error) just before or
    just after its POST, as a worker dying there would leave it; the job is retried."""
    import redis

    from app import comments

    post, calls = comments.post, []

    def flaky(ctx, number: int, text: str) -> int:
        calls.append(number)
        if len(calls) == 1 and not after:
            raise redis.ConnectionError("worker lost Redis")
        made = post(ctx, number, text)
        if len(calls) == 1:
            raise redis.ConnectionError("worker lost Redis")
        return made

    monkeypatch.setattr(comments, "post", flaky)


def _failed_deployment(crew: Crew, monkeypatch, after: bool) -> tuple[dict, str]:
    import time

    from app.maintenance import enqueue_due

    clock = Clock(monkeypatch)
    inst = setup_repo(crew)
    good = crew.emulator.state(OWNER, R)["branches"]["main"]
    green(crew, inst, good)
    first = deploy(crew, "staging", good, "main")
    status(crew, first["deployment_id"], "success")
    clock.advance(minutes=10)
    pr = open_pr(crew, {"app.py": "print(2)\n"})
    green(crew, inst, pr["head_sha"])
    bad = deploy(crew, "staging", pr["head_sha"], "feature")
    _fails_once_around_post(monkeypatch, after)
    status(crew, bad["deployment_id"], "failure")
    enqueue_due(crew.conn, time.time() + 60)  # the retry's backoff has passed
    crew.work()
    return pr, good


def _notices(crew: Crew, number: int) -> list[str]:
    return [c["body"] for c in bot_comments(crew, number) if "reported **failure**" in c["body"]]


def test_a_retry_after_the_rollback_comment_does_not_post_or_dispatch_twice(
        crew: Crew, monkeypatch) -> None:
    pr, good = _failed_deployment(crew, monkeypatch, after=True)
    [notice] = _notices(crew, pr["number"])
    assert f"Rolling `staging` back to `{good[:7]}`" in notice
    assert len(crew.emulator.state(OWNER, R)["dispatches"]) == 1
    assert len(crew.audit("rollback")) == 1


def test_a_retry_before_the_rollback_comment_posts_it_once(crew: Crew, monkeypatch) -> None:
    pr, good = _failed_deployment(crew, monkeypatch, after=False)
    [notice] = _notices(crew, pr["number"])
    assert f"Rolling `staging` back to `{good[:7]}`" in notice
    assert len(crew.emulator.state(OWNER, R)["dispatches"]) == 1
