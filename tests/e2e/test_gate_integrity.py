"""Gate integrity (issue 10), cases 1-4: the commit judged is the commit deployed, and only
our own App's check runs, the deployed commit's own diff and deployments that went through
our gate count as evidence. Each test is a probe a hostile contributor could run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app import github
from app.config import GenerateConfig
from app.files import read_tree
from jobs.pipeline.plan import plan_generation
from tests.e2e.actions import checked_out
from tests.e2e.conftest import Crew
from tests.e2e.test_release import (
    OWNER,
    Clock,
    R,
    answer,
    check,
    deploy,
    green,
    open_pr,
    policy,
    reviews,
    setup_repo,
    status,
)

SAMPLE = Path(__file__).parent.parent / "jobs/repos/py-fastapi-uv"


def generated_delivery() -> str:
    """The delivery workflow the pipeline engineer generates for a FastAPI service."""
    changes = plan_generation(read_tree(SAMPLE), GenerateConfig()).changes
    return changes[".github/workflows/delivery.yml"]


def run_dispatch(crew: Crew, ref: str, inputs: dict[str, str]) -> tuple[str, str, list[Any]]:
    """What GitHub does with a dispatch of delivery.yml on `ref`: the run's commit is the
    ref's head; its deploy job waits on the environment (our gate judges that commit); then
    the jobs check out what the workflow tells them. -> (judged sha, answer, checkouts)."""
    state = crew.emulator.state(OWNER, R)
    github_sha = state["branches"][ref]
    workflow = state["files"][ref][".github/workflows/delivery.yml"]
    env = inputs["environment"]
    run = deploy(crew, env, github_sha, ref)
    verdict = answer(crew, run["run_id"])["state"]
    jobs = ["image", f"deploy-{env}"]
    return github_sha, verdict, [checked_out(workflow, j, github_sha, inputs) for j in jobs]


def pending(crew: Crew, run_id: int) -> bool:
    return all(r["state"] is None for r in reviews(crew, run_id))


# --- case 1: judged = deployed ---------------------------------------------------------------


def test_case1_a_dispatch_cannot_deploy_another_commit_than_the_judged_one(
        crew: Crew, monkeypatch) -> None:
    Clock(monkeypatch)
    inst = setup_repo(crew, files={".github/workflows/delivery.yml": generated_delivery()})
    bad = open_pr(crew, {"app.py": "print('rejected')\n"})
    check(crew, bad["head_sha"])
    policy(crew, inst, bad["head_sha"], "failure", ["SEC001"])
    crew.work()
    assert answer(crew, deploy(crew, "staging", bad["head_sha"], "feature")["run_id"])[
        "state"] == "rejected"
    docs = open_pr(crew, {"docs/guide.md": "# guide\n"}, head="docs")
    green(crew, inst, docs["head_sha"])

    # "Run workflow" on the docs branch, asking for the rejected commit.
    judged, verdict, checkouts = run_dispatch(
        crew, "docs", {"environment": "staging", "sha": bad["head_sha"]})

    assert (judged, verdict) == (docs["head_sha"], "approved")
    assert bad["head_sha"] not in checkouts  # the rejected commit is never built or deployed
    assert all(c in (None, judged) for c in checkouts), checkouts

    # `/crew deploy` still deploys exactly what it names.
    crew.emulator.comment(OWNER, R, docs["number"], "/crew deploy staging", user="maya")
    crew.work()
    [sent] = crew.emulator.state(OWNER, R)["dispatches"]
    judged, verdict, checkouts = run_dispatch(crew, sent["ref"], sent["inputs"])
    assert (judged, verdict, checkouts) == (docs["head_sha"], "approved", [judged, judged])


def test_case1_a_rollback_deploys_the_commit_its_gate_judged(crew: Crew, monkeypatch) -> None:
    clock = Clock(monkeypatch)
    inst = setup_repo(crew, files={".github/workflows/delivery.yml": generated_delivery()})
    pr = open_pr(crew, {"app.py": "print(2)\n"})
    good = pr["head_sha"]
    green(crew, inst, good)
    first = deploy(crew, "staging", good, "feature")
    status(crew, first["deployment_id"], "success")
    clock.advance(minutes=10)
    bad = crew.emulator.push(OWNER, R, pr["number"], {"app.py": "print(3)\n"}, user="alice")
    crew.work()
    green(crew, inst, bad["head_sha"])
    second = deploy(crew, "staging", bad["head_sha"], "feature")
    status(crew, second["deployment_id"], "failure")

    [sent] = crew.emulator.state(OWNER, R)["dispatches"]
    judged, verdict, checkouts = run_dispatch(crew, sent["ref"], sent["inputs"])

    assert judged == good, "the rollback's gate must judge the last good commit"
    assert (verdict, checkouts) == ("approved", [good, good])


# --- case 2: whose verdict -------------------------------------------------------------------


@pytest.fixture
def unnamed(crew: Crew, monkeypatch) -> Crew:
    """The App as `shipcrew serve` or `shipcrew worker` runs it: no APP_SLUG configured."""
    monkeypatch.delenv("APP_SLUG")
    github.reset()
    return crew


def test_case2_another_apps_policy_run_is_not_our_verdict(unnamed: Crew, monkeypatch) -> None:
    crew = unnamed
    Clock(monkeypatch)
    inst = setup_repo(crew)
    pr = open_pr(crew, {"app.py": "print(2)\n"})
    check(crew, pr["head_sha"])
    policy(crew, inst, pr["head_sha"], "failure", ["SEC001"])
    check(crew, pr["head_sha"], name="shipcrew / policy", conclusion="success")  # impostor
    crew.work()

    got = answer(crew, deploy(crew, "staging", pr["head_sha"], "feature")["run_id"])

    assert got["state"] == "rejected", got["comment"]
    assert "policy: verdict fail" in got["comment"]


def test_case2_another_apps_failing_run_named_like_ours_counts(unnamed: Crew,
                                                               monkeypatch) -> None:
    crew = unnamed
    Clock(monkeypatch)
    inst = setup_repo(crew)
    pr = open_pr(crew, {"app.py": "print(2)\n"})
    green(crew, inst, pr["head_sha"])
    check(crew, pr["head_sha"], name="shipcrew / tests", conclusion="failure")
    crew.work()

    got = answer(crew, deploy(crew, "staging", pr["head_sha"], "feature")["run_id"])

    assert got["state"] == "rejected", got["comment"]
    assert "checks failed: `shipcrew / tests` (failure)" in got["comment"]


def test_case2_no_gate_is_answered_while_our_identity_is_unknown(crew: Crew,
                                                               monkeypatch) -> None:
    Clock(monkeypatch)
    inst = setup_repo(crew)
    pr = open_pr(crew, {"docs/guide.md": "# guide\n"})
    green(crew, inst, pr["head_sha"])
    monkeypatch.setattr(github, "read_identity", lambda settings: None)  # GET /app fails
    github.reset()

    run = deploy(crew, "staging", pr["head_sha"], "feature")

    [report] = reviews(crew, run["run_id"])
    assert report["state"] is None
    assert "cannot confirm its own App" in report["comment"]


def test_case2_serve_learns_its_own_slug_from_github(crew: Crew) -> None:
    from app.cli import _resolve_slug
    from app.settings import load_settings

    settings = load_settings(app_slug=None)
    assert _resolve_slug(settings).app_slug == crew.emulator.credentials["app_slug"]


# --- case 3: which diff ----------------------------------------------------------------------

MIGRATION = {"migrations/0003_drop.sql": "DROP TABLE users;\n"}


def _to_production(crew: Crew, clock: Clock, inst: int, sha: str, ref: str) -> dict[str, Any]:
    green(crew, inst, sha)
    staging = deploy(crew, "staging", sha, ref)
    assert answer(crew, staging["run_id"])["state"] == "approved"
    status(crew, staging["deployment_id"], "success")
    clock.advance(minutes=5)
    return deploy(crew, "production", sha, ref)


def test_case3_a_stacked_pr_is_judged_on_what_production_does_not_run_yet(
        crew: Crew, monkeypatch) -> None:
    clock = Clock(monkeypatch)
    inst = setup_repo(crew)
    open_pr(crew, MIGRATION, head="schema")
    stacked = crew.emulator.open_pull(OWNER, R, "docs-on-schema", {"docs/a.md": "# a\n"},
                                      base="schema", user="alice")
    crew.work()

    prod = _to_production(crew, clock, inst, stacked["head_sha"], "docs-on-schema")

    [report] = reviews(crew, prod["run_id"])
    assert report["state"] is None, report  # pending: the migration needs an approval
    assert "awaiting `/crew approve production`" in report["comment"]


def test_case3_reverting_the_pr_does_not_lower_the_risk_of_the_pending_commit(
        crew: Crew, monkeypatch) -> None:
    clock = Clock(monkeypatch)
    inst = setup_repo(crew)
    pr = open_pr(crew, MIGRATION)
    sha = pr["head_sha"]
    prod = _to_production(crew, clock, inst, sha, "feature")
    assert pending(crew, prod["run_id"])

    crew.emulator.push(OWNER, R, pr["number"], {"migrations/0003_drop.sql": None}, user="alice")
    crew.work()
    check(crew, sha, name="ci / late")  # any new evidence re-judges the pending gate
    crew.work()

    assert pending(crew, prod["run_id"]), reviews(crew, prod["run_id"])


@pytest.mark.slow
def test_case3_a_truncated_file_listing_is_high_risk(crew: Crew, monkeypatch) -> None:
    clock = Clock(monkeypatch)
    inst = setup_repo(crew)
    files: dict[str, str | None] = {f"docs/page{i:04}.md": f"# {i}\n" for i in range(3000)}
    pr = open_pr(crew, {**files, **MIGRATION})

    prod = _to_production(crew, clock, inst, pr["head_sha"], "feature")

    [report] = reviews(crew, prod["run_id"])
    assert report["state"] is None, report
    assert "awaiting `/crew approve production`" in report["comment"]


# --- case 4: whose deployment status ---------------------------------------------------------


def test_case4_only_statuses_of_gated_deployments_from_the_workflow_count(
        crew: Crew, monkeypatch) -> None:
    clock = Clock(monkeypatch)
    config = "environments:\n  staging:\n    approvers:\n      users: [omar]\n"
    inst = setup_repo(crew, config, mallory="write")
    pr = open_pr(crew, {"docs/guide.md": "# guide\n"}, user="mallory")
    sha = pr["head_sha"]
    green(crew, inst, sha)
    held = deploy(crew, "staging", sha, "feature")
    assert [r["state"] for r in reviews(crew, held["run_id"])] == [None]  # awaits @omar

    # A user marks the held staging deployment successful, and invents another one.
    crew.emulator.control("POST", f"/repos/{OWNER}/{R}/deployments/{held['deployment_id']}"
                          "/statuses", {"state": "success", "user": "mallory"})
    crew.work()
    clock.advance(minutes=5)
    prod = deploy(crew, "production", sha, "feature")

    report = reviews(crew, prod["run_id"])[-1]
    assert report["state"] is None, report
    assert f"`staging`: {sha[:7]} not deployed there successfully yet" in report["comment"]
