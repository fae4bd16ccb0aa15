"""A merged commit inherits its PR's evidence only when what lands is what was approved."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Crew
from tests.e2e.test_trunk import FILES, ORG, P, R, ci, ctl, deploy, final, report, runs_on

MIGRATION = {"migrations/0002_add_email.sql": "ALTER TABLE users ADD email text;\n"}


def _merged(crew: Crew, method: str, base_change: dict[str, str] | None) -> tuple[dict, str]:
    crew.emulator.create_repo(ORG, R, FILES, org=True)
    for user, permission in {"alice": "write", "maya": "maintain"}.items():
        ctl(crew, "POST", f"{P}/collaborators", {"user": user, "permission": permission})
    for env in ("staging", "production"):
        ctl(crew, "POST", f"{P}/environments", {"name": env})
    pr = ctl(crew, "POST", f"{P}/pulls", {"head": "add-email", "user": "alice",
                                          "files": MIGRATION})
    # approved on the PR, for its head
    crew.emulator.comment(ORG, R, pr["number"], "/crew approve production", user="maya")
    crew.work()
    if base_change:
        ctl(crew, "POST", f"{P}/push", {"branch": "main", "user": "sam", "files": base_change})
    sha = ctl(crew, "POST", f"{P}/pulls/{pr['number']}/merge",
              {"method": method, "user": "maya"})["sha"]
    ci(crew, sha)
    staging = deploy(crew, "staging", sha)
    assert final(crew, staging["run_id"])["state"] == "approved"
    ctl(crew, "POST", f"{P}/deployments/{staging['deployment_id']}/statuses",
        {"state": "success"})
    return pr, sha


@pytest.mark.slow
@pytest.mark.parametrize("method", ["squash", "rebase"])  # merge: tests/e2e/test_trunk.py
def test_approved_head_carries_over(crew: Crew, method: str) -> None:
    pr, sha = _merged(crew, method, {"docs/ops.md": "# ops\n"})
    summary = runs_on(crew, sha)[0]["output"]["summary"]
    assert f"inherits the evidence of #{pr['number']}" in summary
    assert ("changed only low-risk files since (`docs/ops.md`)" in summary
            or "is the approved head's tree" in summary)
    prod = deploy(crew, "production", sha)
    got = final(crew, prod["run_id"])
    assert got["state"] == "approved", got["comment"]
    assert "✅ approval: 1 of 1 (@maya)" in got["comment"]


def test_a_base_that_changed_risky_files_is_judged_on_its_own(crew: Crew) -> None:
    pr, sha = _merged(crew, "merge", {"app.py": "print('changed on main')\n"})
    summary = runs_on(crew, sha)[0]["output"]["summary"]
    assert f"does not inherit the evidence of #{pr['number']}" in summary
    assert "medium-risk files (`app.py`): judged on its own" in summary
    prod = deploy(crew, "production", sha)
    # its own changes (the migration merged in) are high risk, and the PR's approval was for
    # a tree that is not the one deployed
    assert "⏳ approval: 0 of 1" in report(crew, prod["run_id"])
