"""A waiver re-publishes `shipcrew / policy`, so a required check stops blocking the merge."""

from __future__ import annotations

from tests.e2e.conftest import Crew

OWNER, R = "octo", "wf"
WORKFLOW = """name: ci
on: push
permissions: {}
jobs:
  test:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@v4
"""


def _policy(crew: Crew, sha: str) -> dict:
    [run] = [r for r in crew.emulator.state(OWNER, R)["check_runs"]
             if r["head_sha"] == sha and r["name"] == "shipcrew / policy"]
    return dict(run)


def test_waiving_every_failing_rule_turns_the_check_green(crew: Crew) -> None:
    emu = crew.emulator
    emu.create_repo(OWNER, R, {"README.md": "# wf\n",
                               ".github/shipcrew.yml": "generate: {mode: \"off\"}\n"
                               "policies: {rules: {GHA002: {severity: hard}}}\n"})
    emu.control("POST", f"/repos/{OWNER}/{R}/collaborators", {"user": "maya",
                                                               "permission": "maintain"})
    pr = emu.open_pull(OWNER, R, "ci", {".github/workflows/ci.yml": WORKFLOW}, user="alice")
    crew.work()
    before = _policy(crew, pr["head_sha"])
    assert before["conclusion"] == "failure", before["output"]
    assert "GHA002" in before["output"]["summary"]

    emu.comment(OWNER, R, pr["number"], "/crew waive GHA002 pinned in the next PR", user="maya")
    crew.work()
    after = _policy(crew, pr["head_sha"])
    assert after["id"] == before["id"] and after["conclusion"] == "success"
    assert after["output"]["title"] == "Passed with waivers: GHA002"
    assert "- `GHA002` waived by @maya: pinned in the next PR" in after["output"]["summary"]
    assert before["output"]["summary"] in after["output"]["summary"]
