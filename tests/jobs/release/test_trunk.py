"""Rollbacks, packets after a deployment, GitHub's own reviewers (pure parts)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.config import EnvironmentConfig, Freeze, RepoConfig, Rollback
from jobs.auditor.push import watched
from jobs.release.gates import (
    ApprovalGate,
    ChecksGate,
    FreezeGate,
    GateDecision,
    GateResult,
    PredecessorGate,
)
from jobs.release.history import DeploymentRecord
from jobs.release.reviews import Rejection, with_rejections
from jobs.release.store import DecisionRecord
from jobs.release.trunk import bypass, mark_rollback, packet_state, rollback_of

T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
OLD, NEW = "o" * 40, "n" * 40


def record(sha: str, state: str, minutes: int, env: str = "production") -> DeploymentRecord:
    return DeploymentRecord(environment=env, sha=sha, state=state,
                            at=T0 + timedelta(minutes=minutes))


def test_rollback_is_going_back_to_an_earlier_good_version() -> None:
    history = [record(OLD, "success", 0), record(NEW, "success", 5)]
    assert not rollback_of(history, "production", NEW)  # what runs there now: ordinary
    assert rollback_of(history, "production", OLD)
    failed = [*history, record(NEW, "failure", 9)]
    assert rollback_of(failed, "production", OLD)
    assert not rollback_of(failed, "production", NEW)  # a failed version is no way back
    assert not rollback_of(history, "staging", OLD)  # it never ran there
    assert not rollback_of([record(OLD, "success", 0), record(OLD, "failure", 1)],
                           "production", OLD)


def test_bypass_follows_the_config() -> None:
    freeze = FreezeGate(freezes=[Freeze(cron="0 18 * * fri", duration="2d")])
    gates = [ChecksGate(), PredecessorGate(environment="staging", soak_minutes=30),
             ApprovalGate(), freeze]
    kept, skipped = bypass(gates, "production", RepoConfig())
    assert [g.kind for g in kept] == ["checks", "predecessor"]
    assert isinstance(kept[1], PredecessorGate) and kept[1].soak_minutes == 0
    assert skipped == "approval, freeze, soak"
    config = RepoConfig(environments={"production": EnvironmentConfig(
        rollback=Rollback(bypass=["freeze"]))})
    kept, skipped = bypass(gates, "Production", config)
    assert [g.kind for g in kept] == ["checks", "predecessor", "approval"]
    assert isinstance(kept[1], PredecessorGate) and kept[1].soak_minutes == 30
    assert skipped == "freeze"


def _decision(state: str = "pending") -> GateDecision:
    return GateDecision(state=state, environment="production", sha=NEW, results=[  # type: ignore[arg-type]
        GateResult(kind="checks", state="met", reason="checks: ok"),
        GateResult(kind="approval", state="pending", reason="approval: 0 of 1")])


def test_a_rejection_in_githubs_dialog_ends_the_gate() -> None:
    other = [Rejection(user="sam", environment="staging")]
    assert with_rejections(_decision(), other) == _decision()
    got = with_rejections(_decision(), [Rejection(user="maya", environment="production",
                                                  comment="not today")])
    assert got.state == "rejected"
    assert got.reasons == ["✅ checks: ok",
                           "❌ approval: rejected in GitHub review by @maya (not today)"]


def test_rollback_is_marked_in_the_decision() -> None:
    got = mark_rollback(_decision("approved"), "freeze")
    assert got.reasons[0] == (f"✅ rollback: `{NEW[:7]}` already ran successfully in "
                              "`production`; bypassing freeze")


def test_packet_state_after_a_deployment() -> None:
    ok = DecisionRecord(environment="production", sha=NEW, state="approved", reasons=["✅ x"],
                        at=T0)
    later = ok.model_copy(update={"state": "pending", "reasons": ["⏳ y"]})
    assert packet_state([], [ok], "production", NEW) is None
    assert packet_state([record(NEW, "success", 1)], [ok, later], "production", NEW) == (
        "deployed", ["✅ x"])
    assert packet_state([record(NEW, "success", 1), record(NEW, "failure", 2)], [],
                        "production", NEW) == ("deploy failed", [])


def test_watched_branches() -> None:
    config = RepoConfig(environments={"staging": EnvironmentConfig(branches=["release/*"])})
    assert watched("main", "main", config)
    assert watched("release/1.2", "main", config)
    assert not watched("feature", "main", config)
    assert not watched("release/1.2", "main", RepoConfig())
