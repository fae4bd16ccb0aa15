"""The release packet: what a reader of the PR sees, from plain data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.findings import Verdict
from jobs.release.gates import CheckRun
from jobs.release.history import DeploymentRecord
from jobs.release.packet import MARKER, MAX_BODY, PacketEnvironment, ReleasePacket, render_packet
from jobs.release.store import DecisionRecord

T = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
SHA, OLD = "c" * 40, "a" * 40


def packet(**changes: object) -> ReleasePacket:
    base = ReleasePacket(
        number=7, sha=SHA, tier="high", tier_reasons=["high: migrations/1.sql is a migration"],
        environments=[
            PacketEnvironment(name="staging", gates=["checks passed"], state="approved",
                              reasons=["✅ checks: 2 check run(s) passed"]),
            PacketEnvironment(name="production", gates=["checks passed", "1 approval"],
                              state="pending", reasons=["⏳ approval: 0 of 1"]),
        ],
        policy_verdict=Verdict.FAIL, policy_failures=["GHA001"],
        checks=[CheckRun(name="test", status="completed", conclusion="success"),
                CheckRun(name="lint", status="completed", conclusion="failure"),
                CheckRun(name="e2e", status="in_progress")],
        history=[DeploymentRecord(environment="production", sha=OLD, state="success", at=T)],
        decisions=[DecisionRecord(environment="staging", sha=SHA, state="approved", reasons=[],
                                  at=T, trigger="deployment requested")],
        workflow="delivery.yml",
    )
    return base.model_copy(update=changes)


def test_packet_sections() -> None:
    body = render_packet(packet())
    assert body.startswith(MARKER + "\n### shipcrew release packet · `ccccccc`")
    assert "**Risk tier: high** — high: migrations/1.sql is a migration" in body
    assert "| 1 | `staging` | ✅ approved | checks passed |" in body
    assert "| 2 | `production` | ⏳ pending | checks passed<br>1 approval |" in body
    assert "**production** — last decision: pending\n\n- ⏳ approval: 0 of 1" in body
    assert "verdict: **fail** (failing: GHA001)" in body
    assert body.index("`e2e`: in_progress") < body.index("`lint`: failure") < body.index(
        "`test`: success")
    assert "- ❌ `lint`: failure" in body and "- ⏳ `e2e`: in_progress" in body


def test_a_re_run_replaces_its_earlier_run() -> None:
    runs = [CheckRun(name="test", status="completed", conclusion="failure", id=1),
            CheckRun(name="test", status="completed", conclusion="success", id=5),
            CheckRun(name="test", status="completed", conclusion="failure", id=2, app="other")]
    body = render_packet(packet(checks=runs))
    assert body.count("`test`: success") == 1 and body.count("`test`: failure") == 1
    assert ("- `production`: on failure, dispatch `delivery.yml` for `aaaaaaa` "
            "(last good, 2026-03-04 10:00 UTC)") in body
    assert "- `staging`: no earlier good version recorded" in body
    assert "| 2026-03-04 10:00 UTC | `staging` | `ccccccc` | ✅ approved | deployment requested |" \
        in body


def test_empty_packet_and_newest_decisions_first() -> None:
    body = render_packet(packet(checks=[], decisions=[], policy_verdict=None, history=[]))
    assert "No check runs reported on this commit." in body
    assert "verdict: **not reported yet**" in body
    assert "No deployment requested yet." in body
    many = [DecisionRecord(environment="staging", sha=SHA, state="pending", reasons=[],
                           at=T + timedelta(minutes=i), trigger=f"t{i}") for i in range(15)]
    body = render_packet(packet(decisions=many))
    assert "t14" in body and "t5" in body and "| t4 |" not in body
    assert body.index("t14") < body.index("t5")


def test_packet_is_bounded_and_cells_are_escaped() -> None:
    runs = [CheckRun(name=f"c|{i}" * 50, status="completed", conclusion="success")
            for i in range(200)]
    body = render_packet(packet(checks=runs, tier_reasons=["a|b\nc"]))
    assert len(body) <= MAX_BODY
    assert "— a\\|b c" in body
    assert "… and 170 more" in body
