"""The policy verdict as evidence: our own check run, the auditor's record, or nothing."""

from __future__ import annotations

import pytest

from app.findings import Verdict
from jobs.release.evidence import policy_verdict
from jobs.release.gates import CheckRun


def run(conclusion: str | None, app: str = "shipcrew", id: int = 1,
        name: str = "shipcrew / policy") -> CheckRun:
    return CheckRun(name=name, status="completed" if conclusion else "in_progress",
                    conclusion=conclusion, app=app, id=id)


@pytest.mark.parametrize(("conclusion", "verdict"), [
    ("success", Verdict.PASS), ("neutral", Verdict.REVIEW), ("action_required", Verdict.REVIEW),
    ("failure", Verdict.FAIL), ("cancelled", Verdict.FAIL), ("timed_out", Verdict.FAIL),
])
def test_conclusion_to_verdict(conclusion: str, verdict: Verdict) -> None:
    assert policy_verdict([run(conclusion)], None, "shipcrew")[0] is verdict


def test_latest_run_wins_and_failures_come_from_the_record() -> None:
    runs = [run("success", id=1), run("failure", id=3), run("success", id=2)]
    record = {"verdict": "fail", "failures": ["GHA001", "K8S001"]}
    assert policy_verdict(runs, record, "shipcrew") == (Verdict.FAIL, ["GHA001", "K8S001"])
    # A passing re-run makes the recorded failures irrelevant.
    assert policy_verdict([*runs, run("success", id=4)], record, "shipcrew") == (
        Verdict.PASS, [])


def test_a_run_of_that_name_by_another_app_is_not_our_verdict() -> None:
    spoof = run("success", app="github-actions", id=9)
    assert policy_verdict([spoof], None, "shipcrew") == (None, [])
    assert policy_verdict([spoof, run("failure", id=2)], {"failures": ["SEC001"]},
                          "ShipCrew") == (Verdict.FAIL, ["SEC001"])


def test_no_run_falls_back_to_the_record_then_to_nothing() -> None:
    assert policy_verdict([run(None)], {"verdict": "review"}, "shipcrew") == (Verdict.REVIEW, [])
    assert policy_verdict([], {"verdict": "bogus"}, "shipcrew") == (None, [])
    assert policy_verdict([run("success", name="ci")], None, "shipcrew") == (None, [])
