from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobs.release.history import DeploymentRecord, render_history, rollback_target

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def rec(env: str, sha: str, state: str, minute: int, dep_id: int = 0,
        by: str = "ci") -> DeploymentRecord:
    return DeploymentRecord(environment=env, sha=sha * 40, ref="main", state=state,
                            at=T0 + timedelta(minutes=minute), by=by, deployment_id=dep_id or None)


HISTORY = [
    rec("production", "a", "success", 0, 1),
    rec("staging", "c", "success", 5, 2),
    rec("production", "b", "success", 10, 3),
    rec("production", "a", "inactive", 10, 1),  # superseded by b, still a good version
    rec("production", "c", "in_progress", 20, 4),
    rec("production", "c", "failure", 21, 4),
]


def test_rollback_goes_to_the_last_good_version() -> None:
    target = rollback_target(HISTORY, "production", failed_sha="c" * 40)
    assert target is not None and target.sha == "b" * 40 and target.deployment_id == 3


def test_rollback_skips_the_failed_sha_even_if_it_was_good_before() -> None:
    target = rollback_target(HISTORY, "production", failed_sha="b" * 40)
    assert target is not None and target.sha == "a" * 40


def test_a_version_that_failed_later_is_not_a_target() -> None:
    history = [*HISTORY, rec("production", "b", "error", 30, 5)]
    target = rollback_target(history, "production", failed_sha="d" * 40)
    assert target is not None and target.sha == "a" * 40


def test_order_comes_from_time_not_from_the_list() -> None:
    target = rollback_target(list(reversed(HISTORY)), "Production", failed_sha="c" * 40)
    assert target is not None and target.sha == "b" * 40


def test_no_target() -> None:
    assert rollback_target(HISTORY, "staging", failed_sha="c" * 40) is None
    assert rollback_target([], "production", failed_sha="c" * 40) is None
    assert rollback_target(HISTORY, "qa", failed_sha="x") is None


def test_render_history() -> None:
    text = render_history([*HISTORY, rec("production", "d", "success", 40, by="ev|il`")],
                          "production", limit=3)
    lines = text.splitlines()
    assert lines[0] == "Deployments to `production` (newest first):"
    assert lines[2:4] == ["| when | version | ref | state | by |", "|---|---|---|---|---|"]
    assert lines[4] == "| 2026-11-20 09:40 UTC | `ddddddd` | main | success | @ev\\|il' |"
    assert lines[5] == "| 2026-11-20 09:21 UTC | `ccccccc` | main | failure | @ci |"
    assert len(lines) == 7
    assert render_history(HISTORY, "qa") == "No deployments to `qa` recorded yet."
