from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.config import RepoConfig
from app.findings import Verdict
from jobs.release.decide import decide
from jobs.release.gates import (
    COMMENT_LIMIT,
    Approval,
    ApprovalGate,
    CheckRun,
    Evidence,
    GateDecision,
    GateResult,
    Waiver,
    gates_for,
)
from jobs.release.history import DeploymentRecord

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # a Friday
SHA = "a" * 40
ENVS = {"staging", "production"}


def green(*names: str) -> list[CheckRun]:
    return [CheckRun(name=n, status="completed", conclusion="success") for n in names]


def evidence(**kw: Any) -> Evidence:
    base: dict[str, Any] = dict(sha=SHA, environment="staging", tier="low", pr_author="alice",
                                last_pusher="alice", check_runs=green("test", "lint"),
                                policy_verdict=Verdict.PASS, now=NOW)
    base.update(kw)
    return Evidence(**base)


def staged(minutes_ago: int, sha: str = SHA, state: str = "success") -> DeploymentRecord:
    return DeploymentRecord(environment="staging", sha=sha, state=state,
                            at=NOW - timedelta(minutes=minutes_ago))


def approval(user: str, permission: str = "maintain", **kw: Any) -> Approval:
    return Approval(user=user, environment=kw.pop("environment", "production"),
                    permission=permission, at=NOW - timedelta(minutes=5), **kw)


def kinds(env: str, tier: str, config: RepoConfig | None = None,
          known: set[str] = ENVS) -> list[str]:
    return [g.kind for g in gates_for(env, config or RepoConfig(), tier, known)]


def config(**environments: Any) -> RepoConfig:
    return RepoConfig.model_validate({"environments": environments})


# --- gates_for ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("env", "tier", "known", "expected"),
    [
        ("staging", "high", ENVS, ["checks", "policy"]),
        ("production", "low", ENVS, ["checks", "policy", "predecessor"]),
        ("production", "high", ENVS, ["checks", "policy", "predecessor", "approval"]),
        ("Production", "high", ENVS, ["checks", "policy", "predecessor", "approval"]),
        ("prod", "medium", ENVS, ["checks", "policy", "predecessor"]),
        ("prod-eu", "high", ENVS, ["checks", "policy", "predecessor", "approval"]),
        ("production", "high", {"production"}, ["checks", "policy", "approval"]),
        ("products", "high", ENVS, ["checks", "policy"]),
        ("preview", "high", ENVS, ["checks", "policy"]),
    ],
)
def test_default_gates(env: str, tier: str, known: set[str], expected: list[str]) -> None:
    assert kinds(env, tier, known=known) == expected


def test_config_overrides_gates() -> None:
    cfg = config(
        production={"requires": ["qa", "staging"], "soak_minutes": 15,
                    "required_checks": ["build"], "auto_approve": ["high"],
                    "freeze": [{"cron": "0 18 * * 5", "duration": "2d"}]},
        staging={"approvers": {"users": ["sam"], "count": 2}, "auto_approve": ["low"]},
    )
    prod = gates_for("production", cfg, "high", ENVS)
    assert [g.kind for g in prod] == ["checks", "policy", "predecessor", "predecessor", "freeze"]
    assert prod[0].required == ["build"]  # type: ignore[union-attr]
    assert [(g.environment, g.soak_minutes) for g in prod[2:4]] == [  # type: ignore[union-attr]
        ("qa", 15), ("staging", 15)]
    # approvers configured: every tier needs approval, except the auto-approved ones
    assert kinds("staging", "low", cfg) == ["checks", "policy"]
    staging = gates_for("staging", cfg, "medium", ENVS)
    assert isinstance(staging[-1], ApprovalGate)
    assert (staging[-1].count, staging[-1].users) == (2, ["sam"])


def test_requires_empty_list_drops_default_predecessor() -> None:
    assert kinds("production", "low", config(production={"requires": []})) == ["checks", "policy"]


# --- decide ------------------------------------------------------------------------------------

def decision(env: str = "staging", tier: str = "low", cfg: RepoConfig | None = None,
             **kw: Any) -> GateDecision:
    ev = evidence(environment=env, tier=tier, **kw)
    return decide(gates_for(env, cfg or RepoConfig(), tier, ENVS), ev)


def test_green_low_risk_staging_is_approved() -> None:
    d = decision()
    assert d.state == "approved" and d.next_check_at is None
    assert d.reasons == ["✅ checks: 2 check run(s) passed", "✅ policy: verdict pass"]


@pytest.mark.parametrize("conclusion", ["failure", "timed_out", "cancelled", "action_required"])
def test_failed_check_rejects(conclusion: str) -> None:
    runs = [*green("lint"), CheckRun(name="test", status="completed", conclusion=conclusion)]
    d = decision(check_runs=runs)
    assert d.state == "rejected"
    assert f"❌ checks failed: `test` ({conclusion})" in d.reasons


@pytest.mark.parametrize("conclusion", ["neutral", "skipped"])
def test_neutral_and_skipped_pass(conclusion: str) -> None:
    runs = [CheckRun(name="x", status="completed", conclusion=conclusion)]
    assert decision(check_runs=runs).state == "approved"


def test_running_check_is_pending() -> None:
    runs = [*green("lint"), CheckRun(name="test", status="in_progress")]
    d = decision(check_runs=runs)
    assert d.state == "pending" and d.next_check_at is None
    assert "⏳ checks: waiting for `test` (in_progress)" in d.reasons


def test_rerun_replaces_failed_run_and_own_checks_are_ignored() -> None:
    runs = [
        CheckRun(name="test", status="completed", conclusion="failure", id=1),
        CheckRun(name="test", status="completed", conclusion="success", id=7),
        CheckRun(name="shipcrew / policy", status="completed", conclusion="failure", id=3),
        CheckRun(name="deploy", status="waiting", id=9),  # the job waiting on this very gate
        CheckRun(name="smoke", status="queued", id=10, check_suite_id=55),
    ]
    assert decision(check_runs=runs, gated_check_suite_id=55).state == "approved"
    assert decision(check_runs=runs).state == "pending"  # smoke is someone else's then


def test_required_checks_only() -> None:
    cfg = config(staging={"required_checks": ["build", "test"]})
    runs = [*green("build"), CheckRun(name="flaky", status="completed", conclusion="failure")]
    d = decision(cfg=cfg, check_runs=runs)
    assert d.state == "pending"
    assert "⏳ checks: waiting for `test` (not reported)" in d.reasons
    assert decision(cfg=cfg, check_runs=[*runs, *green("test")]).state == "approved"


@pytest.mark.parametrize(
    ("verdict", "failures", "waivers", "state"),
    [
        (None, [], [], "pending"),
        (Verdict.REVIEW, [], [], "approved"),
        (Verdict.FAIL, ["GHA002"], [], "rejected"),
        (Verdict.FAIL, [], [], "rejected"),  # rules unknown: nothing to waive
        (Verdict.FAIL, ["GHA002", "DKR001"], ["gha002"], "rejected"),
        (Verdict.FAIL, ["GHA002", "DKR001"], ["GHA002", "DKR001"], "approved"),
    ],
)
def test_policy_gate(verdict: Verdict | None, failures: list[str], waivers: list[str],
                     state: str) -> None:
    ws = [Waiver(rule=r, user="maya", reason="known", at=NOW) for r in waivers]
    d = decision(policy_verdict=verdict, policy_failures=failures, waivers=ws)
    assert d.state == state
    if state == "rejected" and failures:
        assert any("policy: verdict fail (" in r and "not waived" in r for r in d.reasons)


def test_production_needs_staging_and_soak() -> None:
    cfg = config(production={"soak_minutes": 30})
    missing = decision("production", "medium", cfg)
    assert missing.state == "pending" and missing.next_check_at is None
    assert "⏳ `staging`: aaaaaaa not deployed there successfully yet" in missing.reasons

    soaking = decision("production", "medium", cfg, deployments=[staged(12)])
    assert soaking.state == "pending"
    assert soaking.next_check_at == NOW + timedelta(minutes=18)
    assert "⏳ `staging`: soaking, 12 of 30 min since its deployment" in soaking.reasons

    soaked = decision("production", "medium", cfg, deployments=[staged(31)])
    assert soaked.state == "approved"
    assert "✅ `staging`: deployed successfully 31 min ago, soak 30 min met" in soaked.reasons


def test_staging_success_of_another_sha_or_a_later_failure_does_not_count() -> None:
    other = decision("production", "low", deployments=[staged(60, sha="b" * 40)])
    assert other.state == "pending"
    failed_later = decision("production", "low",
                            deployments=[staged(60), staged(10, state="failure")])
    assert failed_later.state == "pending"
    inactive_later = decision("production", "low",
                              deployments=[staged(60), staged(10, state="inactive")])
    assert inactive_later.state == "approved"


def test_high_risk_production_needs_a_maintainer_who_is_not_the_author() -> None:
    base = dict(deployments=[staged(60)])
    d = decision("production", "high", **base)
    assert d.state == "pending"
    assert any("awaiting `/crew approve production`" in r for r in d.reasons)

    own = decision("production", "high", approvals=[approval("alice", "admin")], **base)
    assert own.state == "pending"
    assert any("@alice not counted: author or last pusher" in r for r in own.reasons)

    writer = decision("production", "high", approvals=[approval("wes", "write")], **base)
    assert writer.state == "pending"
    assert any("@wes not counted: has write, needs maintain" in r for r in writer.reasons)

    ok = decision("production", "high", approvals=[approval("maria")], **base)
    assert ok.state == "approved"
    assert "✅ approval: 1 of 1 (@maria)" in ok.reasons


def test_approval_for_an_older_push_or_other_environment_is_ignored() -> None:
    base = dict(deployments=[staged(60)])
    stale = decision("production", "high", approvals=[approval("maria", sha="c" * 40)], **base)
    assert stale.state == "pending"
    assert any("an older push" in r for r in stale.reasons)
    other = decision("production", "high",
                     approvals=[approval("maria", environment="staging")], **base)
    assert other.state == "pending"


def test_listed_approvers_count_and_distinct_users() -> None:
    cfg = config(production={"requires": [], "approvers": {"users": ["sam"], "teams": ["sre"],
                                                          "count": 2}})
    one = decision("production", "low", cfg, approvals=[approval("sam"), approval("SAM")])
    assert one.state == "pending"
    assert any("approval: 1 of 2 (@sam)" in r for r in one.reasons)
    stranger = decision("production", "low", cfg,
                        approvals=[approval("sam"), approval("root", "admin")])
    assert stranger.state == "pending"
    assert any("@root not counted: not a listed approver" in r for r in stranger.reasons)
    team = decision("production", "low", cfg,
                    approvals=[approval("sam"), approval("tia", "read", teams=["acme/sre"])])
    assert team.state == "approved"


def test_allow_author() -> None:
    cfg = config(production={"allow_author": True, "requires": []})
    d = decision("production", "high", cfg, approvals=[approval("alice")])
    assert d.state == "approved"


def test_freeze_reject_and_hold() -> None:
    friday_evening = {"cron": "0 18 * * fri", "duration": "2d15h", "timezone": "Europe/Berlin",
                      "reason": "weekend"}
    saturday = NOW + timedelta(days=1)
    reject = config(staging={"freeze": [friday_evening]})
    d = decision(cfg=reject, now=saturday)
    assert d.state == "rejected"
    assert ("❌ freeze: staging is frozen, freeze (weekend) from 2026-11-20 18:00 CET "
            "to 2026-11-23 09:00 CET") in d.reasons
    assert decision(cfg=reject).state == "approved"  # Friday noon: before the window

    hold = config(staging={"freeze": [{**friday_evening, "action": "hold"}]})
    held = decision(cfg=hold, now=saturday)
    assert held.state == "pending"
    assert held.next_check_at == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def test_invalid_freeze_fails_closed() -> None:
    cfg = config(staging={"freeze": [{"cron": "0 25 * * *", "duration": "1h"}]})
    d = decision(cfg=cfg)
    assert d.state == "rejected"
    assert any("invalid freeze" in r and "outside 0-23" in r for r in d.reasons)


def test_next_check_is_the_earliest_timed_gate() -> None:
    cfg = config(production={"soak_minutes": 60,
                             "freeze": [{"cron": "0 11 * * *", "duration": "2h",
                                         "action": "hold"}]})
    d = decision("production", "low", cfg, deployments=[staged(10)])
    assert d.state == "pending"
    assert d.next_check_at == NOW + timedelta(minutes=50)


def test_rejection_wins_over_pending() -> None:
    runs = [CheckRun(name="a", status="completed", conclusion="failure")]
    d = decision("production", "high", check_runs=runs, policy_verdict=None)
    assert d.state == "rejected" and d.next_check_at is None


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_comment_is_bounded_and_puts_blockers_first() -> None:
    results = [GateResult(kind="checks", state="met", reason="✅ ok " * 30)] * 20 + [
        GateResult(kind="policy", state="failed", reason="policy: verdict fail 😱 " + "x" * 2000)
    ]
    d = GateDecision(state="rejected", environment="production", sha=SHA, results=results)
    text = d.comment()
    assert _utf16(text) <= COMMENT_LIMIT
    lines = text.splitlines()
    assert lines[0] == "shipcrew: rejected for production (aaaaaaa)"
    assert lines[1].startswith("❌ policy: verdict fail 😱") and lines[1].endswith("…")
    assert lines[-1] == "… 20 more"


@pytest.mark.parametrize("limit", [80, 200, 1024])
def test_comment_limits_hold_for_any_size(limit: int) -> None:
    results = [GateResult(kind="x", state="pending", reason=f"reason {i} " + "é" * i)
               for i in range(60)]
    d = GateDecision(state="pending", environment="staging", sha=SHA, results=results)
    assert _utf16(d.comment(limit)) <= limit
    short = GateDecision(state="approved", environment="staging", sha=SHA,
                         results=results[:2]).comment(limit)
    assert "more" not in short


def test_production_with_zero_ci_check_runs_is_not_checks_passed() -> None:
    gates = gates_for("production", RepoConfig(), "low", ENVS)
    own = [CheckRun(name="shipcrew / policy", status="completed", conclusion="success")]
    got = decide(gates, evidence(environment="production", check_runs=own,
                                 deployments=[DeploymentRecord(
                                     environment="staging", sha=SHA, state="success",
                                     at=NOW - timedelta(hours=1))]))
    assert got.state == "pending"
    assert "⏳ checks: waiting for at least one CI check run on aaaaaaa" in got.reasons[0]
    staging = decide(gates_for("staging", RepoConfig(), "low", ENVS),
                     evidence(check_runs=own))
    assert staging.state == "approved"  # elsewhere zero checks is still fine


def test_plan_and_gate_report_a_missing_predecessor_alike() -> None:
    from app.coordinator import classify, plan

    config = RepoConfig.model_validate({"environments": {"production": {"requires": ["qa"]}}})
    [gate] = [g for g in gates_for("production", config, "low", ENVS)
              if g.kind == "predecessor"]
    got = decide([gate], evidence(environment="production"))
    assert got.state == "pending"
    text = "`qa` does not exist on GitHub: create that environment or remove it from `requires`"
    assert got.reasons == [f"⏳ {text}"]
    shown = plan(classify(["app.py"], config), config, is_fork=False, event="plan",
                 known_environments=ENVS).render_markdown()
    assert text in shown
